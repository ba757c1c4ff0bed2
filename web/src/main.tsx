import { StrictMode, useMemo, useState } from "react";
import { createRoot } from "react-dom/client";
import { ApolloProvider } from "@apollo/client/react";
import { makeClient } from "./apollo.js";
import { loadAppConfig, type AppConfig } from "./config.js";
import { devSignIn, loadSession, saveSession, type Session } from "./session.js";
import { Link, navigate, usePath } from "./router.js";
import { ErrorText } from "./ui.js";
import { LiveNow } from "./pages/LiveNow.js";
import { Room } from "./pages/Room.js";
import { Studio } from "./pages/Studio.js";
import { Overlay } from "./pages/Overlay.js";
import "./styles.css";

function SignIn({ config, onSession, onClose }: { config: AppConfig; onSession: (s: Session) => void; onClose: () => void }) {
  const [sub, setSub] = useState("");
  const [name, setName] = useState("");
  const [host, setHost] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!config.devSignIn) {
    return (
      <div className="panel" data-testid="sign-in">
        <p>Sign-in goes through the identity provider in production.</p>
        <button onClick={onClose}>Close</button>
      </div>
    );
  }
  return (
    <form
      className="panel"
      data-testid="sign-in"
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        try {
          onSession(await devSignIn(sub.trim(), name.trim() || sub.trim(), host ? ["viewer", "host"] : ["viewer"]));
        } catch (err) {
          setError((err as Error).message);
        }
      }}
    >
      <h2>Development sign-in</h2>
      <p className="muted">Mints a token for any user (development only; refused in production).</p>
      <input placeholder="user id, e.g. alice" value={sub} onChange={(e) => setSub(e.target.value)} data-testid="sign-in-id" aria-label="User id" required />
      <input placeholder="display name" value={name} onChange={(e) => setName(e.target.value)} data-testid="sign-in-name" aria-label="Display name" />
      <label>
        <input type="checkbox" checked={host} onChange={(e) => setHost(e.target.checked)} data-testid="sign-in-host" /> I am a host
      </label>
      <button type="submit" data-testid="sign-in-submit">
        Sign in
      </button>
      <button type="button" className="link" onClick={onClose}>
        Cancel
      </button>
      <ErrorText message={error} />
    </form>
  );
}

function App({ config }: { config: AppConfig }) {
  const path = usePath();
  const [session, setSession] = useState<Session | null>(loadSession);
  const [signingIn, setSigningIn] = useState(false);
  const client = useMemo(() => makeClient(config, session?.token ?? null), [config, session?.token]);

  if (path.startsWith("/overlay")) {
    // OBS: no chrome, transparent, read-only overlay token (never the user's session).
    return <Overlay config={config} />;
  }
  const roomId = /^\/room\/([^/]+)$/.exec(path)?.[1];
  const use = (s: Session | null) => {
    saveSession(s);
    setSession(s);
    setSigningIn(false);
  };
  return (
    <ApolloProvider client={client}>
      <nav className="top">
        <Link to="/">Live now</Link>
        <Link to="/studio">Studio</Link>
        <span className="spacer" />
        {session ? (
          <>
            <span data-testid="signed-in-as">{session.user.name}</span>
            <button className="link" onClick={() => use(null)}>
              Sign out
            </button>
          </>
        ) : (
          <button onClick={() => setSigningIn(true)} data-testid="open-sign-in">
            Sign in
          </button>
        )}
      </nav>
      {signingIn && <SignIn config={config} onSession={use} onClose={() => setSigningIn(false)} />}
      <main key={session?.token ?? "anonymous"}>
        {roomId ? (
          <Room id={decodeURIComponent(roomId)} config={config} session={session} onSignIn={() => setSigningIn(true)} />
        ) : path === "/studio" ? (
          <Studio session={session} />
        ) : path === "/" ? (
          <LiveNow />
        ) : (
          <p>
            Nothing here. <a href="/" onClick={(e) => (e.preventDefault(), navigate("/"))}>Go to live rooms</a>
          </p>
        )}
      </main>
    </ApolloProvider>
  );
}

loadAppConfig().then(
  (config) =>
    createRoot(document.getElementById("root")!).render(
      <StrictMode>
        <App config={config} />
      </StrictMode>,
    ),
  (err) => {
    document.getElementById("root")!.textContent = `The app could not load its configuration: ${(err as Error).message}`;
  },
);
