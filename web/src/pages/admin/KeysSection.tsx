// Admin: API keys — issue another key for a user (shown once), look a key
// up by id, and set its limits: requests and tokens per minute and a
// spending cap (blank: no limit of that kind).
import { useState } from "react";
import { useApp } from "../../app/context";
import { ErrorBox } from "../common/Status";
import type { KeyView, UserView } from "../common/types";
import { useAction } from "../common/useAction";
import { useLoad } from "../common/useLoad";
import { KeyLimitsForm } from "./KeyLimitsForm";

interface CreatedKey { key_id: number; api_key: string }

export function KeysSection() {
  const app = useApp();
  const users = useLoad(() => app.api<UserView[]>("GET", "/api/admin/users?limit=500"), [app.apiKey]);
  const [userId, setUserId] = useState("");
  const [label, setLabel] = useState("");
  const [lookup, setLookup] = useState("");
  const issue = useAction<CreatedKey>();
  const find = useAction<KeyView>();
  const chosen = userId || String(users.data?.[0]?.id ?? "");

  const onIssue = () => issue.run(async () => {
    const made = await app.api<CreatedKey>("POST", `/api/admin/users/${chosen}/keys`, { label: label.trim() });
    setLookup(String(made.key_id));
    await find.run(() => app.api<KeyView>("GET", `/api/admin/keys/${made.key_id}`));
    return made;
  });
  const onFind = () => find.run(() => app.api<KeyView>("GET", `/api/admin/keys/${lookup.trim()}`));

  return (
    <>
      <section className="card" aria-label="Issue a key">
        <h2>Issue a key</h2>
        {users.error !== undefined && <ErrorBox error={users.error} retry={users.reload} />}
        <form className="row" onSubmit={(e) => { e.preventDefault(); void onIssue(); }}>
          <label>User
            <select value={chosen} onChange={(e) => setUserId(e.target.value)} disabled={!users.data}>
              {users.data?.map((u) => <option key={u.id} value={u.id}>{u.handle} (#{u.id})</option>)}
            </select>
          </label>
          <label>Label<input value={label} onChange={(e) => setLabel(e.target.value)} placeholder="what the key is for" /></label>
          <button type="submit" disabled={issue.busy || !chosen}>{issue.busy ? "Issuing…" : "Issue key"}</button>
        </form>
        {issue.error !== undefined && <ErrorBox error={issue.error} />}
        {issue.result && (
          <p className="notice" data-testid="new-key">Key #{issue.result.key_id}, shown only now: <code>{issue.result.api_key}</code></p>
        )}
      </section>
      <section className="card" aria-label="Key limits">
        <h2>Key limits</h2>
        <form className="row" onSubmit={(e) => { e.preventDefault(); void onFind(); }}>
          <label>Key id<input inputMode="numeric" value={lookup} onChange={(e) => setLookup(e.target.value.trim())} placeholder="from Issue key" /></label>
          <button type="submit" className="secondary" disabled={find.busy || !/^\d+$/.test(lookup)}>{find.busy ? "Looking…" : "Show key"}</button>
        </form>
        <p className="hint">Key ids are shown when a key is issued.</p>
        {find.error !== undefined && <ErrorBox error={find.error} />}
        {find.result && <KeyLimitsForm key={find.result.id} view={find.result} owner={(id) => users.data?.find((u) => u.id === id)?.handle ?? `user #${id}`} />}
      </section>
    </>
  );
}
