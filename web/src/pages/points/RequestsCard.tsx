// The signed-in user's recent gateway requests (`GET /api/user/requests`):
// model, tokens, what each cost and how it ended.
import { useApp } from "../../app/context";
import { Show } from "../common/Status";
import type { RequestRecord } from "../common/types";
import { useLoad } from "../common/useLoad";
import { RequestRows } from "./RequestRows";

export function RequestsCard() {
  const app = useApp();
  const requests = useLoad(() => app.api<RequestRecord[]>("GET", "/api/user/requests?limit=10"), [app.apiKey, app.balance]);
  return (
    <section className="card" aria-label="Recent requests">
      <h2>Recent requests</h2>
      <Show state={requests} what="your requests" empty={(r) => (r.length === 0 ? "No requests yet: calls to /v1/chat/completions show here with their cost." : undefined)}>
        {(r) => <RequestRows rows={r} />}
      </Show>
    </section>
  );
}

