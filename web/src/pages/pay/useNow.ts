// The current time, ticking once a second (countdowns, "retrying in").
import { useEffect, useState } from "react";

/** `Date.now()`, updated every second while the component is shown. */
export function useNow(): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return now;
}
