// The same challenge as crates/core/src/login.rs's test: both sides sign
// it to the same bytes (RFC 6979).
import { describe, expect, it } from "vitest";
import { LoginRefusal, signChallenge } from "./login";

const secret = new Uint8Array(32).fill(0x11);
const text = "Tollway login\nsite: https://pay.example\nkey: 0xf949a9cc83edefcd580eb3f0f3bae187c4d008db\nnonce: ab12\nexpires: 1700000000000";

describe("wallet login in the page", () => {
  it("signs its own site's challenge for its own key, as Rust does", () => {
    const signature = signChallenge(text, "https://pay.example", secret);
    expect(signature).toBe(LOGIN_VECTOR_SIGNATURE);
  });

  it("refuses another site's challenge (a relay), another key's, and anything else", () => {
    const code = (t: string, site = "https://pay.example") => {
      try {
        signChallenge(t, site, secret);
        return "signed";
      } catch (e) {
        return e instanceof LoginRefusal ? e.code : String(e);
      }
    };
    expect(code(text, "https://evil.example")).toBe("wrong_site");
    expect(code(text.replace("f949", "0000"))).toBe("wrong_key");
    expect(code("sign this: send me your points")).toBe("malformed_challenge");
  });
});

/** Also asserted by crates/core/src/login.rs. */
const LOGIN_VECTOR_SIGNATURE = "0x5e3cb386291636a6f502483b09a98f33e6e4c3bb3ba86435943041a3a1b2baad21789a9f140c804d71eee1ce4e36f189450739229e396c82657a2a122e3141f400";
