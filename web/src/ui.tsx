import { useState } from "react";

/** A gift's image; when it cannot load (offline CDN), its initial in a coloured badge. */
export function GiftImage({ url, name, size = 40 }: { url: string | null | undefined; name: string; size?: number }) {
  const [failed, setFailed] = useState(false);
  if (!url || failed) {
    return (
      <span className="gift-fallback" style={{ width: size, height: size, lineHeight: `${size}px`, fontSize: size / 2 }} aria-label={name}>
        {name.slice(0, 1)}
      </span>
    );
  }
  return <img src={url} alt={name} width={size} height={size} onError={() => setFailed(true)} />;
}

export function ErrorText({ message, testId = "error" }: { message: string | null; testId?: string }) {
  if (!message) return null;
  return (
    <p className="error" role="alert" data-testid={testId}>
      {message}
    </p>
  );
}

export function newKey(): string {
  return crypto.randomUUID();
}
