// Admin: users — the list, a new user (its first key shown once), enable
// or disable (PATCH), and points granted or adjusted.
import { useState } from "react";
import { useApp } from "../../app/context";
import { when } from "../../lib/format";
import { ErrorBox, Show } from "../common/Status";
import type { UserView } from "../common/types";
import { useAction } from "../common/useAction";
import { useLoad } from "../common/useLoad";
import { PointsForm } from "./PointsForm";

interface Created { user: UserView; api_key: string }

/** Users per page (the server pages by id: the users after a cursor). */
export const USERS_PAGE = 50;

export function UsersSection() {
  const app = useApp();
  // The cursors of the pages seen so far: the last is the page shown.
  const [cursors, setCursors] = useState<number[]>([0]);
  const cursor = cursors[cursors.length - 1];
  const users = useLoad(() => app.api<UserView[]>("GET", `/api/admin/users?limit=${USERS_PAGE}&cursor=${cursor}`), [app.apiKey, cursor]);
  const create = useAction<Created>();
  const toggle = useAction<UserView>();
  const [handle, setHandle] = useState("");
  const [admin, setAdmin] = useState(false);
  const [picked, setPicked] = useState("");

  const onCreate = () => create.run(async () => {
    const made = await app.api<Created>("POST", "/api/admin/users", { handle: handle.trim(), admin });
    setHandle("");
    setAdmin(false);
    users.reload();
    return made;
  });
  const setEnabled = (u: UserView, enabled: boolean) => toggle.run(async () => {
    const changed = await app.api<UserView>("PATCH", `/api/admin/users/${u.id}`, { enabled });
    users.reload();
    return changed;
  });

  return (
    <>
      <section className="card" aria-label="Users">
        <h2>Users</h2>
        {toggle.error !== undefined && <ErrorBox error={toggle.error} />}
        <Show state={users} what="users" empty={(u) => (u.length > 0 ? undefined : cursors.length > 1 ? "No more users." : "No users yet: create one below.")}>
          {(list) => (
            <div className="table-wrap">
              <table data-testid="users">
                <thead><tr><th className="num">Id</th><th>Handle</th><th>Role</th><th>State</th><th>Created</th><th>Actions</th></tr></thead>
                <tbody>
                  {list.map((u) => (
                    <tr key={u.id} data-handle={u.handle}>
                      <td className="num">{u.id}</td>
                      <td>{u.handle}</td>
                      <td>{u.role}</td>
                      <td className={u.enabled ? "ok" : "bad"}>{u.enabled ? "enabled" : "disabled"}</td>
                      <td>{when(u.created_at)}</td>
                      <td className="actions">
                        <button className="secondary" disabled={toggle.busy || u.id === app.me.user_id} title={u.id === app.me.user_id ? "You cannot disable yourself" : undefined}
                          onClick={() => void setEnabled(u, !u.enabled)}>{u.enabled ? "Disable" : "Enable"}</button>
                        <button className="quiet" onClick={() => setPicked(u.handle)}>Points…</button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <div className="row spread pager">
                <button className="secondary" disabled={cursors.length === 1} onClick={() => setCursors((c) => c.slice(0, -1))}>← Previous</button>
                <span className="muted" data-testid="users-page">Page {cursors.length}</span>
                <button className="secondary" disabled={list.length < USERS_PAGE} onClick={() => setCursors((c) => [...c, list[list.length - 1].id])}>Next →</button>
              </div>
            </div>
          )}
        </Show>
      </section>
      <section className="card" aria-label="New user">
        <h2>New user</h2>
        <form className="row" onSubmit={(e) => { e.preventDefault(); void onCreate(); }}>
          <label>Handle<input value={handle} onChange={(e) => setHandle(e.target.value)} placeholder="alice" autoComplete="off" /></label>
          <label className="check"><input type="checkbox" checked={admin} onChange={(e) => setAdmin(e.target.checked)} />Administrator</label>
          <button type="submit" disabled={create.busy || !handle.trim()}>{create.busy ? "Creating…" : "Create user"}</button>
        </form>
        <p className="hint">1-64 letters, digits and <code>_ . @ -</code>. The user's first API key is shown once, here.</p>
        {create.error !== undefined && <ErrorBox error={create.error} />}
        {create.result && (
          <p className="notice" data-testid="new-user">
            Created <strong>{create.result.user.handle}</strong> (id {create.result.user.id}). API key, shown only now:{" "}
            <code data-testid="new-user-key">{create.result.api_key}</code>
          </p>
        )}
      </section>
      <PointsForm handles={users.data?.map((u) => u.handle) ?? []} picked={picked} />
    </>
  );
}
