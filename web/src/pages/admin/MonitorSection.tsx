// Admin: the consumption monitor — points (or tokens) per hour by model
// (`/api/admin/consumption/hourly`: gateway requests and app usage events)
// and by user (the latest 500 gateway requests and usage events, summed
// here), then the recent requests and usage events themselves.
import { useState } from "react";
import { useApp } from "../../app/context";
import { hourBuckets, toSeries, type Point } from "../../lib/chart";
import { ErrorBox, Loading } from "../common/Status";
import type { HourlyTotal, RequestRecord } from "../common/types";
import { useLoad } from "../common/useLoad";
import { RequestRows } from "../points/RequestRows";
import { StackedBars } from "./charts/StackedBars";
import { UsageEvents, type UsageEvent } from "./UsageEvents";
import { useHandles } from "./useHandles";

type Metric = "points" | "tokens";

export function MonitorSection() {
  const app = useApp();
  const [hours, setHours] = useState(24);
  const [metric, setMetric] = useState<Metric>("points");
  const { handles, name } = useHandles();
  const data = useLoad(async () => {
    const [hourly, requests, events] = await Promise.all([
      app.api<HourlyTotal[]>("GET", `/api/admin/consumption/hourly?hours=${hours}`),
      app.api<RequestRecord[]>("GET", "/api/admin/requests?limit=500"),
      app.api<UsageEvent[]>("GET", "/api/admin/consumption/recent?limit=500"),
    ]);
    return { hourly, requests, events, now: Date.now() };
  }, [app.apiKey, hours]);

  const tokens = (input: number, output: number) => BigInt(input) + BigInt(output);
  let charts = null;
  if (data.data) {
    const { hourly, requests, events, now } = data.data;
    const buckets = hourBuckets(hours, now);
    const byModel: Point[] = hourly.map((h) => ({ at: h.hour, key: h.model, value: metric === "points" ? BigInt(h.charged) : tokens(h.input_tokens, h.output_tokens) }));
    const byUser: Point[] = [
      ...requests.map((r) => ({ at: r.created_at, key: name(r.user_id), value: metric === "points" ? BigInt(r.cost) : tokens(r.input_tokens, r.output_tokens) })),
      ...events.map((e) => ({ at: e.created_at, key: e.user_id === null ? `unattributed ${e.user_ref ?? ""}`.trim() : name(e.user_id), value: metric === "points" ? BigInt(e.charged) : tokens(e.input_tokens, e.output_tokens) })),
    ];
    charts = (
      <div className="charts">
        <StackedBars id="model" title={`${metric === "points" ? "Points charged" : "Tokens"} per hour, by model`} unit={metric} buckets={buckets} series={toSeries(byModel, buckets)} />
        <StackedBars id="user" title={`${metric === "points" ? "Points charged" : "Tokens"} per hour, by user`} unit={metric} buckets={buckets} series={toSeries(byUser, buckets)} />
      </div>
    );
  }

  return (
    <>
      <section className="card" aria-label="Consumption">
        <div className="row spread">
          <h2>Consumption</h2>
          <div className="row">
            <label className="inline">Window
              <select value={hours} onChange={(e) => setHours(Number(e.target.value))}>
                <option value={6}>6 hours</option><option value={24}>24 hours</option><option value={72}>3 days</option><option value={168}>7 days</option>
              </select>
            </label>
            <label className="inline">Show
              <select value={metric} onChange={(e) => setMetric(e.target.value as Metric)}>
                <option value="points">points</option><option value="tokens">tokens</option>
              </select>
            </label>
            <button className="secondary" onClick={data.reload}>Refresh</button>
          </div>
        </div>
        {data.error !== undefined ? <ErrorBox error={data.error} retry={data.reload} /> : data.data === undefined ? <Loading what="consumption" /> : charts}
      </section>
      <section className="card" aria-label="Recent requests">
        <h2>Recent requests</h2>
        {data.data && (data.data.requests.length === 0 ? <p className="empty">No gateway requests yet.</p> :
          <RequestRows rows={data.data.requests.slice(0, 20)} showUser handles={handles} />)}
        {!data.data && !data.error && <Loading what="requests" />}
      </section>
      <section className="card" aria-label="Recent usage events">
        <h2>Recent usage events (apps)</h2>
        {data.data && <UsageEvents events={data.data.events.slice(0, 20)} name={name} />}
        {!data.data && !data.error && <Loading what="usage events" />}
      </section>
    </>
  );
}
