import { describe, expect, it } from "vitest";
import { ApiError } from "../api";
import { exceptionText, failureText, refusalText } from "./words";

describe("refusal words", () => {
  it("say what a known code means, with the code", () => {
    expect(refusalText({ code: "unknown_payment", message: "no such payment" })).toBe("There is no payment with this id. Check the link, or start a new payment. (unknown_payment)");
    expect(failureText(new ApiError(429, "too_many_connections", "busy"))).toContain("Too many pages");
  });
  it("fall back to the server's message for a code this page does not know", () => {
    expect(refusalText({ code: "brand_new", message: "Something new went wrong." })).toBe("Something new went wrong. (brand_new)");
    expect(failureText(new Error("plain"))).toBe("plain");
  });
});

describe("exceptionText", () => {
  it("explains each exception", () => {
    expect(exceptionText(null)).toBeUndefined();
    expect(exceptionText("paid_late")).toContain("after the payment's time was up");
    expect(exceptionText("paid_over")).toContain("More than");
    expect(exceptionText("paid_partial")).toContain("Less than");
  });
});
