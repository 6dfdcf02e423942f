/**
 * The Lua scripts of the Redis state store: each decision is one script, run
 * atomically by Redis in one round trip (EVALSHA), never a read-modify-write from the
 * client. They restate the arithmetic of the memory store (src/core/ratelimit and
 * src/core/state/client_state.ts) so that a fleet decides exactly as one instance does.
 *
 * Time: `ARGV[1]` is the time in epoch ms, or 0 to use the Redis server's `TIME` (the
 * default, so that instances with skewed clocks still agree); tests pass their own.
 * Expiry times are always relative (`PEXPIRE`), so a test clock never expires a key
 * early.
 *
 * Data of one client (`name` URI-encoded inside a hash tag, so both keys share a Redis
 * Cluster slot whatever the prefix holds):
 * - `<prefix>cl:{name}` — hash: `bt`/`bu`/`br` (request bucket tokens, update time,
 *   the requests_per_minute it was used with), `day`/`today` (UTC day number, tokens
 *   settled that day), `res` (tokens reserved by running requests), and the sliding
 *   window in one-second slots: `T:<slot>` tokens, `Q:<slot>` requests;
 * - `<prefix>cl:{name}:held` — sorted set of reservations, `"<tokens>|<id>"` scored by
 *   the time they were made (for the lease).
 *
 * A window slot `s` (epoch second) counts while `now < (s + 1) * 1000 + 60000`: an
 * amount is held at most 1 s too long, never released early (as the memory window).
 * Both keys expire at the later of the next UTC midnight and now + lease + 2 min,
 * refreshed on every call, so a client that stops sending leaves nothing behind; a
 * per-IP bucket expires once it would be full again.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** A script: its source and the SHA1 that EVALSHA names it by. */
export interface Script {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
  readonly keys: number;
}

function script(name: string, keys: number, source: string): Script {
  return { name, keys, source, sha: createHash("sha1").update(source).digest("hex") };
}

const COMMON = `
local function now_ms()
  local given = tonumber(ARGV[1])
  if given ~= nil and given > 0 then return given end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function fmt(x) return string.format('%.17g', x) end
local EPS = 1e-9
-- ms until a bucket holding tokens has one (0 when it has one); rate in tokens/s
local function until_token(tokens, rate)
  local missing = 1 - tokens
  if missing <= EPS then return 0 end
  if not (rate > 0) then return 60000 end
  return math.max(1, math.ceil(missing * 1000 / rate - EPS))
end
`;

/**
 * Per-IP token bucket (docs/behaviour.md#rate-limits-per-ip). KEYS: bucket. ARGV: now, per_second,
 * burst. Returns 0 when a token was taken, else the ms until one is there.
 */
export const RATE_LIMIT: Script = script(
  "ratelimit",
  1,
  `${COMMON}
local now = now_ms()
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local v = redis.call('HMGET', KEYS[1], 't', 'u')
local tokens = tonumber(v[1])
local upd = tonumber(v[2])
if tokens == nil or upd == nil then tokens = burst; upd = now end
if now > upd then
  tokens = tokens + (now - upd) * rate / 1000
  upd = now
end
if tokens > burst then tokens = burst end
local wait = until_token(tokens, rate)
if wait > 0 then return wait end
tokens = math.max(0, tokens - 1)
-- Until it is full again; then the key is gone, which reads as a full bucket.
local full_in = math.ceil((burst - tokens) * 1000 / rate)
redis.call('HSET', KEYS[1], 't', fmt(tokens), 'u', fmt(upd))
redis.call('PEXPIRE', KEYS[1], full_in + 1000)
return 0
`,
);

const CLIENT_COMMON = `${COMMON}
local WINDOW, SLOT, DAY = 60000, 1000, 86400000
local RESERVATIONS_RETRY = 1000
local KEEP = 120000

local function by_slot(a, b) return a[1] < b[1] end

-- The client's hash: scalars, and the live window slots (oldest first); dead slots go.
local function load(h, now)
  local raw = redis.call('HGETALL', h)
  local c = { today = 0, res = 0, tok = {}, req = {} }
  local dead = {}
  for i = 1, #raw, 2 do
    local f, v = raw[i], raw[i + 1]
    local kind = string.sub(f, 1, 2)
    if kind == 'T:' or kind == 'Q:' then
      local slot = tonumber(string.sub(f, 3))
      if slot ~= nil and now < slot * SLOT + SLOT + WINDOW then
        local list = c.req
        if kind == 'T:' then list = c.tok end
        list[#list + 1] = { slot, tonumber(v) or 0 }
      else
        dead[#dead + 1] = f
      end
    elseif f == 'day' or f == 'today' or f == 'res' or f == 'bt' or f == 'bu' or f == 'br' then
      c[f] = tonumber(v)
    end
  end
  if #dead > 0 then redis.call('HDEL', h, unpack(dead)) end
  table.sort(c.tok, by_slot)
  table.sort(c.req, by_slot)
  return c
end

-- Today's number; a new UTC day starts today's count afresh (never goes back).
local function roll(c, now)
  local d = math.floor(now / DAY)
  if c.day == nil or d > c.day then
    c.day = d
    c.today = 0
  end
  return c.day
end

-- Records tokens used at now: in the window and in today's count.
local function record(c, h, tokens, now)
  if not (tokens > 0) then return end
  local slot = math.floor(now / SLOT)
  redis.call('HINCRBY', h, 'T:' .. string.format('%d', slot), tokens)
  c.tok[#c.tok + 1] = { slot, tokens }
  roll(c, now)
  c.today = c.today + tokens
end

-- Reservations held for the lease or longer: their requests never reported back
-- (an instance died), so each is settled at its estimate.
local function expire_held(c, h, z, now, lease)
  local cut = fmt(now - lease)
  local old = redis.call('ZRANGEBYSCORE', z, '-inf', cut)
  if #old == 0 then return end
  for _, m in ipairs(old) do
    local tokens = tonumber(string.match(m, '^(%d+)|')) or 0
    c.res = c.res - tokens
    record(c, h, tokens, now)
  end
  redis.call('ZREMRANGEBYSCORE', z, '-inf', cut)
  if c.res < 0 or redis.call('ZCARD', z) == 0 then c.res = 0 end
end

local function sum(list)
  local s = 0
  for _, e in ipairs(list) do s = s + e[2] end
  return s
end

local function bucket_tokens(c, rpm, now)
  if c.bt == nil or c.bu == nil then return rpm end
  local t = c.bt
  if now > c.bu then t = t + (now - c.bu) * (rpm / 60) / 1000 end
  if t > rpm then t = rpm end
  return t
end

-- Writes the scalars and pushes both keys' expiry out.
local function save(c, h, z, now, lease)
  redis.call('HSET', h, 'day', string.format('%d', c.day), 'today', fmt(c.today), 'res', fmt(c.res))
  local ttl = math.max((c.day + 1) * DAY - now, lease + KEEP)
  redis.call('PEXPIRE', h, math.ceil(ttl))
  redis.call('PEXPIRE', z, math.ceil(ttl))
end
`;

/** Reason codes returned by {@linkcode CLIENT_ADMIT}. */
export const REFUSAL_REASONS = [
  undefined,
  "rate_limited",
  "tokens_rate_limited",
  "budget_exceeded",
] as const;

/**
 * Client admission (docs/behaviour.md#client-behaviour). KEYS: client hash, held set. ARGV: now,
 * requests_per_minute, tokens_per_minute, tokens_per_day (0 = off), estimate, the
 * reservation's member (`"<estimate>|<id>"`), lease ms. Returns `{0, 0, 0}` when
 * admitted (the request counted, the estimate reserved), else `{reason, retry ms, 0}`
 * with reason 1 rate_limited, 2 tokens_rate_limited, 3 budget_exceeded.
 */
export const CLIENT_ADMIT: Script = script(
  "client_admit",
  2,
  `${CLIENT_COMMON}
local h, z = KEYS[1], KEYS[2]
local now = now_ms()
local rpm, tpm, tpd = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local est = tonumber(ARGV[5])
local member = ARGV[6]
local lease = tonumber(ARGV[7])
local c = load(h, now)
expire_held(c, h, z, now, lease)
local day = roll(c, now)

local reason, wait = 0, 0
if rpm > 0 and c.bt ~= nil then
  wait = until_token(bucket_tokens(c, rpm, now), rpm / 60)
  if wait > 0 then reason = 1 end
end
if reason == 0 and tpm > 0 then
  if est > tpm then
    reason, wait = 2, WINDOW
  else
    local over = sum(c.tok) + c.res + est - tpm
    if over > 0 then
      reason, wait = 2, RESERVATIONS_RETRY
      local freed = 0
      for _, e in ipairs(c.tok) do
        freed = freed + e[2]
        if freed >= over then
          wait = math.max(1, e[1] * SLOT + SLOT + WINDOW - now)
          break
        end
      end
    end
  end
end
if reason == 0 and tpd > 0 then
  if est > tpd or c.today + c.res + est > tpd then
    reason, wait = 3, math.max(1, (day + 1) * DAY - now)
  end
end
if reason ~= 0 then
  save(c, h, z, now, lease)
  return { reason, math.ceil(wait), 0 }
end

if rpm > 0 then
  local t = math.max(0, bucket_tokens(c, rpm, now) - 1)
  local bu = c.bu
  if bu == nil or now > bu then bu = now end
  redis.call('HSET', h, 'bt', fmt(t), 'bu', fmt(bu), 'br', fmt(rpm))
elseif c.bt ~= nil then
  redis.call('HDEL', h, 'bt', 'bu', 'br')
end
redis.call('HINCRBY', h, 'Q:' .. string.format('%d', math.floor(now / SLOT)), 1)
redis.call('ZADD', z, fmt(now), member)
c.res = c.res + est
save(c, h, z, now, lease)
return { 0, 0, 0 }
`,
);

/**
 * Ends a reservation (docs/behaviour.md#client-behaviour). KEYS: client hash, held set. ARGV: now,
 * member, used tokens (-1: none reported, the estimate stands), lease ms. Returns 1 when the
 * reservation was held, 0 when not (settled already, or expired by its lease).
 */
export const CLIENT_SETTLE: Script = script(
  "client_settle",
  2,
  `${CLIENT_COMMON}
local h, z = KEYS[1], KEYS[2]
local now = now_ms()
local member = ARGV[2]
local used = tonumber(ARGV[3])
local lease = tonumber(ARGV[4])
if redis.call('ZREM', z, member) == 0 then return 0 end
local tokens = tonumber(string.match(member, '^(%d+)|')) or 0
local v = redis.call('HMGET', h, 'day', 'today', 'res')
local c = { day = tonumber(v[1]), today = tonumber(v[2]) or 0, res = tonumber(v[3]) or 0, tok = {} }
c.res = c.res - tokens
if c.res < 0 or redis.call('ZCARD', z) == 0 then c.res = 0 end
roll(c, now)
if used ~= nil and used >= 0 then record(c, h, used, now) else record(c, h, tokens, now) end
save(c, h, z, now, lease)
return 1
`,
);

/**
 * A client's figures for the admin API. KEYS: client hash, held set. ARGV: now, lease
 * ms. Returns `{requests_last_minute, tokens_last_minute, tokens_today}`, reservations
 * counted in both token figures.
 */
export const CLIENT_USAGE: Script = script(
  "client_usage",
  2,
  `${CLIENT_COMMON}
local h, z = KEYS[1], KEYS[2]
local now = now_ms()
local lease = tonumber(ARGV[2])
if redis.call('EXISTS', h) == 0 then return { 0, 0, 0 } end
local c = load(h, now)
expire_held(c, h, z, now, lease)
roll(c, now)
save(c, h, z, now, lease)
return { sum(c.req), sum(c.tok) + c.res, c.today + c.res }
`,
);

/*
 * Breakers and Retry-After pauses of one member (group, upstream, fingerprint of its
 * url and breaker settings): `<prefix>br:{<group>\0<upstream>\0<fingerprint>}` — hash:
 * `u` (an open breaker's end of cooldown, epoch ms; absent: not open), `p` (a
 * Retry-After pause's end, epoch ms); `<same>:probe` — the fleet's single half-open
 * probe slot (`SET NX PX`, the holder's id). Time here is always the caller's (ARGV),
 * the same clock its local breaker runs on. Every change is PUBLISHed on
 * `<prefix>events` as `kind|key|value`.
 */

/** An instance opened the breaker until ARGV[1]: store it (the later end wins), free the probe, publish. ARGV[2]: key TTL ms; ARGV[3]: channel; ARGV[4]: key name for the message. */
export const BREAKER_OPEN: Script = script(
  "breaker_open",
  2,
  `
local u = tonumber(ARGV[1])
local old = tonumber(redis.call('HGET', KEYS[1], 'u') or '0')
if u > old then redis.call('HSET', KEYS[1], 'u', ARGV[1]) else u = old end
redis.call('DEL', KEYS[2])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], 'open|' .. ARGV[4] .. '|' .. string.format('%.0f', u))
return u
`,
);

/** A probe succeeded: the breaker is closed fleet-wide. ARGV[1]: channel; ARGV[2]: key name. */
export const BREAKER_CLOSE: Script = script(
  "breaker_close",
  2,
  `
redis.call('HDEL', KEYS[1], 'u')
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[1], 'close|' .. ARGV[2] .. '|0')
return 1
`,
);

/**
 * Asks for the fleet's half-open probe slot: 0 granted; otherwise ms to wait (the
 * breaker is still open elsewhere, or another instance holds the probe). ARGV[1]: now;
 * ARGV[2]: holder id; ARGV[3]: lease ms.
 */
export const BREAKER_PROBE: Script = script(
  "breaker_probe",
  2,
  `
local now = tonumber(ARGV[1])
local u = tonumber(redis.call('HGET', KEYS[1], 'u') or '0')
if u > now then return u - now end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return 0 end
local t = redis.call('PTTL', KEYS[2])
if t < 1 then t = 1 end
return t
`,
);

/** Gives back a probe slot (a cancelled probe) if ARGV[1] still holds it. */
export const BREAKER_PROBE_FREE: Script = script(
  "breaker_probe_free",
  1,
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`,
);

/** A Retry-After pause until ARGV[1] (the later end wins). ARGV[2]: TTL ms; ARGV[3]: channel; ARGV[4]: key name. */
export const MEMBER_PAUSE: Script = script(
  "member_pause",
  1,
  `
local p = tonumber(ARGV[1])
local old = tonumber(redis.call('HGET', KEYS[1], 'p') or '0')
if p > old then redis.call('HSET', KEYS[1], 'p', ARGV[1]) else p = old end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
redis.call('PUBLISH', ARGV[3], 'pause|' .. ARGV[4] .. '|' .. string.format('%.0f', p))
return p
`,
);

/**
 * The `u` and `p` of every member key given (the periodic refresh): a flat list. Its
 * keys span slots: on Redis Cluster this script would need one call per member.
 */
export const BREAKER_READ: Script = script(
  "breaker_read",
  -1,
  `
local out = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('HMGET', k, 'u', 'p')
  out[2 * i - 1] = v[1] or '0'
  out[2 * i] = v[2] or '0'
end
return out
`,
);

/**
 * Stores an admin change: bumps the version, keeps the configuration (no state
 * block), publishes the version and the epoch. ARGV[1]: JSON; ARGV[2]: TTL ms;
 * ARGV[3]: channel; ARGV[4]: a fresh random epoch, kept only when the record is new.
 * The epoch names one life of the record: a Redis that lost it (restarted without
 * persistence, flushed, expired) counts versions from 1 again under a new epoch, so an
 * instance that applied a higher version of the old life still sees the change as new.
 */
export const CONFIG_PUT: Script = script(
  "config_put",
  1,
  `
local v = redis.call('HINCRBY', KEYS[1], 'v', 1)
if v == 1 then redis.call('HSET', KEYS[1], 'e', ARGV[4]) end
local e = redis.call('HGET', KEYS[1], 'e') or ''
redis.call('HSET', KEYS[1], 'json', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], 'config|' .. string.format('%.0f', v) .. '|' .. e)
return {v, e}
`,
);

/** Every script, for loading them at connect time. */
export const SCRIPTS: readonly Script[] = [
  RATE_LIMIT,
  CLIENT_ADMIT,
  CLIENT_SETTLE,
  CLIENT_USAGE,
  BREAKER_OPEN,
  BREAKER_CLOSE,
  BREAKER_PROBE,
  BREAKER_PROBE_FREE,
  MEMBER_PAUSE,
  BREAKER_READ,
  CONFIG_PUT,
];

/** The key of one member's breaker and pause record. */
export function memberKey(
  prefix: string,
  group: string,
  upstream: string,
  fingerprint: string,
): string {
  // One hash tag: the record and its `:probe` key share a Redis Cluster slot.
  return `${prefix}br:{${group}\u0000${upstream}\u0000${fingerprint}}`;
}

/** The channel of breaker, pause and configuration news. */
export function eventsChannel(prefix: string): string {
  return `${prefix}events`;
}

/** The key of the live configuration stored by admin changes. */
export function configKey(prefix: string): string {
  return `${prefix}config`;
}

/** The keys of one client's limits under `prefix`. */
export function clientKeys(prefix: string, client: string): [string, string] {
  const tag = `${prefix}cl:{${encodeURIComponent(client)}}`;
  return [tag, `${tag}:held`];
}

/** The key of a per-IP bucket (`key` is the pipeline's `forward NUL ip`). */
export function rateLimitKey(prefix: string, key: string): string {
  return `${prefix}rl:${key}`;
}
