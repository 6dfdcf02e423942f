/** The llmproxy release this build is. */
export const VERSION = "0.1.0";
