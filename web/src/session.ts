/** The signed-in user (development: a token minted by the web server's /dev/token). */
export interface Session {
  token: string;
  user: { id: string; name: string; roles: string[]; region: string };
}

const KEY = "gift.session";

export function loadSession(): Session | null {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) ?? "null") as Session | null;
    if (!s?.token) return null;
    // Drop an expired token instead of failing every request with UNAUTHENTICATED.
    const payload = JSON.parse(atob(s.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))) as { exp?: number };
    if (payload.exp && payload.exp * 1000 < Date.now()) return null;
    return s;
  } catch {
    return null;
  }
}

export function saveSession(s: Session | null): void {
  if (s) localStorage.setItem(KEY, JSON.stringify(s));
  else localStorage.removeItem(KEY);
}

export async function devSignIn(sub: string, name: string, roles: string[]): Promise<Session> {
  const res = await fetch("/dev/token", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sub, name, roles }) });
  const body = (await res.json().catch(() => ({}))) as { token?: string; user?: Session["user"]; error?: string };
  if (!res.ok || !body.token || !body.user) throw new Error(body.error ?? `sign-in refused (HTTP ${res.status})`);
  return { token: body.token, user: body.user };
}
