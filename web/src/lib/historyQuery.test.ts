import { describe, expect, it } from "vitest";
import { csvFileName, historyQuery, localToMs, NO_FILTER } from "./historyQuery";

describe("historyQuery", () => {
  it("is empty without filters", () => {
    expect(historyQuery(NO_FILTER, {})).toBe("");
  });
  it("joins kinds, trims the model, pages with cursor and limit", () => {
    const q = historyQuery({ kinds: ["charge", "grant"], model: " gpt-4 ", from: "", to: "" }, { cursor: 42, limit: 10 });
    expect(q).toBe("?type=charge%2Cgrant&model=gpt-4&cursor=42&limit=10");
  });
  it("sends times as Unix ms and CSV without a limit", () => {
    const from = "2026-12-04T10:00";
    const q = new URLSearchParams(historyQuery({ ...NO_FILTER, from }, { limit: 10, csv: true }));
    expect(q.get("from")).toBe(String(new Date(from).getTime()));
    expect(q.get("format")).toBe("csv");
    expect(q.has("limit")).toBe(false);
  });
  it("ignores unreadable times", () => {
    expect(localToMs("not a time")).toBeUndefined();
    expect(localToMs("")).toBeUndefined();
  });
});

describe("csvFileName", () => {
  it("names the user and the day, safely", () => {
    expect(csvFileName("w-0xab/cd", new Date("2026-12-04T11:00:00Z"))).toBe("tollway-history-w-0xab_cd-2026-12-04.csv");
  });
});
