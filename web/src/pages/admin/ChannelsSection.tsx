// Admin: every user's ledger channels (`GET /api/admin/channels`), what
// each holds, owes and has claimed, and a claim run now
// (`POST /api/admin/channels/claims`; the server also claims on a timer).
import { useState } from "react";
import { useApp } from "../../app/context";
import { points, short, when } from "../../lib/format";
import { ErrorBox, Show } from "../common/Status";
import type { AdminChannel } from "../common/types";
import { useAction } from "../common/useAction";
import { useLoad } from "../common/useLoad";
import { useHandles } from "./useHandles";

interface Claimed { sub_channels: number; amount: string }

export function ChannelsSection() {
  const app = useApp();
  const { users, name } = useHandles();
  const [user, setUser] = useState("");
  const channels = useLoad(
    () => app.api<{ channels: AdminChannel[] }>("GET", `/api/admin/channels?limit=100${user ? `&user=${user}` : ""}`).then((r) => r.channels),
    [app.apiKey, user],
  );
  const claim = useAction<Claimed>();
  const onClaim = () => claim.run(async () => {
    const done = await app.api<Claimed>("POST", "/api/admin/channels/claims", {});
    channels.reload();
    return done;
  });

  return (
    <>
      <section className="card" aria-label="Claims">
        <h2>Claims</h2>
        <p className="hint">A claim moves what the latest signed receipts owe from each channel's escrow to revenue, never more. The server claims on its own every minute and when a channel owes a lot; this runs one now.</p>
        <div className="row">
          <button onClick={() => void onClaim()} disabled={claim.busy}>{claim.busy ? "Claiming…" : "Run a claim now"}</button>
        </div>
        {claim.error !== undefined && <ErrorBox error={claim.error} />}
        {claim.result && (
          <p className="notice" data-testid="claim-result">
            {claim.result.sub_channels === 0 ? "Nothing was owed: every accepted receipt was already claimed." :
              <>Claimed <strong>{points(claim.result.amount)}</strong> points from {claim.result.sub_channels} sub-channel{claim.result.sub_channels === 1 ? "" : "s"}.</>}
          </p>
        )}
      </section>
      <section className="card" aria-label="Channels">
        <div className="row spread">
          <h2>Channels</h2>
          <label className="inline">User
            <select value={user} onChange={(e) => setUser(e.target.value)}>
              <option value="">everyone</option>
              {users.data?.map((u) => <option key={u.id} value={u.id}>{u.handle}</option>)}
            </select>
          </label>
        </div>
        <Show state={channels} what="channels" empty={(c) => (c.length === 0 ? "No channels yet: users open them on the Channels page (points moved into escrow)." : undefined)}>
          {(list) => (
            <div className="table-wrap">
              <table data-testid="channels">
                <thead><tr><th>Channel</th><th>User</th><th className="num">Collateral</th><th className="num">Owed</th><th className="num">Claimed</th><th className="num">Refunded</th><th className="num">Keys</th><th>State</th><th>Opened</th></tr></thead>
                <tbody>
                  {list.map((c) => (
                    <tr key={c.id}>
                      <td title={c.id}><code>{short(c.id)}</code></td>
                      <td>{name(c.user_id)}</td>
                      <td className="num">{points(c.collateral)}</td>
                      <td className="num">{points(c.owed)}</td>
                      <td className="num">{points(c.claimed)}</td>
                      <td className="num">{points(c.refunded)}</td>
                      <td className="num">{c.subs.length}</td>
                      <td className={c.open ? "ok" : "muted"}>{c.open ? "open" : `closed ${when(c.closed_at)}`}</td>
                      <td>{when(c.created_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Show>
      </section>
    </>
  );
}
