/** A minimal reader of the Prometheus text format (enough for tests): samples by name and labels. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseProm(text: string): { samples: PromSample[]; types: Map<string, string> } {
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line.startsWith("# TYPE ")) {
      const [, , name, type] = line.split(" ");
      types.set(name, type);
      continue;
    }
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { samples, types };
}

/** The value of one series (0 when absent): every given label must match. */
export function valueOf(samples: PromSample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

export async function scrape(baseUrl: string, headers: Record<string, string> = {}): Promise<{ status: number; contentType: string | null; text: string; samples: PromSample[]; types: Map<string, string> }> {
  const res = await fetch(`${baseUrl.replace(/\/graphql$/, "")}/metrics`, { headers });
  const text = await res.text();
  const parsed = res.ok ? parseProm(text) : { samples: [], types: new Map<string, string>() };
  return { status: res.status, contentType: res.headers.get("content-type"), text, ...parsed };
}
