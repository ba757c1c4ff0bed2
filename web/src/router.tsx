import { useEffect, useState, type MouseEvent, type ReactNode } from "react";

/** A tiny history router: /, /room/:id, /studio, /overlay. */
export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const on = () => setPath(location.pathname);
    addEventListener("popstate", on);
    return () => removeEventListener("popstate", on);
  }, []);
  return path;
}

export function navigate(to: string): void {
  history.pushState(null, "", to);
  dispatchEvent(new PopStateEvent("popstate"));
}

export function Link({ to, children, testId }: { to: string; children: ReactNode; testId?: string }) {
  const click = (e: MouseEvent) => {
    if (e.metaKey || e.ctrlKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={click} data-testid={testId}>
      {children}
    </a>
  );
}
