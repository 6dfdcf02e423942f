import assert from "node:assert/strict";
import { didYouMean, levenshtein, suggest } from "./did_you_mean.ts";

Deno.test("levenshtein", () => {
  assert.equal(levenshtein("port", "port"), 0);
  assert.equal(levenshtein("portt", "port"), 1);
  assert.equal(levenshtein("per_secnod", "per_second"), 2);
  assert.equal(levenshtein("", "abc"), 3);
  assert.equal(levenshtein("kitten", "sitting"), 3);
});

Deno.test("suggest: close keys, case, renames; nothing when far", () => {
  const keys = ["name", "port", "address", "default_group", "routing", "ratelimit", "timeout"];
  assert.equal(suggest("portt", keys), "port");
  assert.equal(suggest("Address", keys), "address");
  assert.equal(suggest("rate_limit", keys), "ratelimit");
  assert.equal(suggest("upstream_group", keys), "default_group");
  assert.equal(suggest("tls", keys), undefined);
  assert.equal(suggest("nam", ["name", "max"]), "name");
  assert.equal(didYouMean("routes", ["routing"]), "");
  assert.equal(didYouMean("routng", ["routing"]), '; did you mean "routing"?');
});

Deno.test("suggest: prototype names are plain words, not renames", () => {
  for (const word of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"]) {
    assert.equal(suggest(word, ["default_group", "name"]), undefined, word);
  }
  assert.equal(suggest("upstream_group", ["default_group"]), "default_group");
});
