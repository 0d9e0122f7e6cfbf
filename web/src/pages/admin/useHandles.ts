// User ids to handles, for the admin tables that only carry ids.
import { useApp } from "../../app/context";
import type { UserView } from "../common/types";
import { useLoad } from "../common/useLoad";

export function useHandles() {
  const app = useApp();
  const users = useLoad(() => app.api<UserView[]>("GET", "/api/admin/users?limit=500"), [app.apiKey]);
  const handles = new Map((users.data ?? []).map((u) => [u.id, u.handle]));
  return { users, handles, name: (id: number) => handles.get(id) ?? `#${id}` };
}
