// The admin console (admins only; the shell hides it from others and the
// server refuses them): one section at a time, chosen by `#/admin/<section>`.
import { AuditSection } from "./AuditSection";
import { ChannelsSection } from "./ChannelsSection";
import { JobsSection } from "./JobsSection";
import { KeysSection } from "./KeysSection";
import { MonitorSection } from "./MonitorSection";
import { PaymentsMonitorSection } from "./PaymentsMonitorSection";
import { PricesSection } from "./PricesSection";
import { UsersSection } from "./UsersSection";

const SECTIONS = [
  { path: "users", title: "Users", render: () => <UsersSection /> },
  { path: "keys", title: "Keys & limits", render: () => <KeysSection /> },
  { path: "prices", title: "Prices", render: () => <PricesSection /> },
  { path: "channels", title: "Channels", render: () => <ChannelsSection /> },
  { path: "jobs", title: "CKB jobs", render: () => <JobsSection /> },
  { path: "monitor", title: "Consumption", render: () => <MonitorSection /> },
  { path: "audit", title: "Ledger audit", render: () => <AuditSection /> },
  { path: "payments", title: "Payments monitor", render: () => <PaymentsMonitorSection /> },
] as const;

export function AdminPage(props: { section?: string }) {
  const current = SECTIONS.find((s) => s.path === props.section) ?? SECTIONS[0];
  return (
    <>
      <nav className="tabs" aria-label="Admin sections">
        {SECTIONS.map((s) => (
          <a key={s.path} href={`#/admin/${s.path}`} aria-current={s === current ? "page" : undefined}>{s.title}</a>
        ))}
      </nav>
      {current.render()}
    </>
  );
}
