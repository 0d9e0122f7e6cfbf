// A value to copy exactly (an address, an amount), with its copy button.
import { useEffect, useState } from "react";

type Copied = "idle" | "copied" | "failed";

/** A button that copies `text` to the clipboard and says whether it did. */
export function CopyButton(props: { text: string; what: string }) {
  const [copied, setCopied] = useState<Copied>("idle");
  useEffect(() => {
    if (copied === "idle") return;
    const timer = setTimeout(() => setCopied("idle"), 2500);
    return () => clearTimeout(timer);
  }, [copied]);
  const copy = () => {
    navigator.clipboard.writeText(props.text).then(() => setCopied("copied"), () => setCopied("failed"));
  };
  return (
    <button type="button" className="secondary" aria-label={`Copy the ${props.what}`} onClick={copy}>
      {copied === "copied" ? "Copied" : copied === "failed" ? "Select and copy it yourself" : "Copy"}
    </button>
  );
}

/** A labelled value shown in full, exactly as it must be entered, with its copy button. */
export function CopyField(props: { label: string; value: string; unit?: string; testId: string; big?: boolean }) {
  return (
    <div className="copy-field">
      <span className="copy-label">{props.label}</span>
      <span className={props.big ? "copy-value big" : "copy-value"}>
        <code data-testid={props.testId}>{props.value}</code>{props.unit && <> {props.unit}</>}
      </span>
      <CopyButton text={props.value} what={props.label.toLowerCase()} />
    </div>
  );
}
