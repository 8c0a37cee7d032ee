/** Markdown pieces the benchmarks build docs/benchmarks.md from. */
export interface Section {
  title: string;
  /** Markdown under the title. */
  body: string;
  /** One line per target: what was measured against what was wanted. */
  targets: TargetCheck[];
}

export interface TargetCheck {
  what: string;
  target: string;
  measured: string;
  met: boolean;
}

export function check(what: string, target: string, measured: string, met: boolean): TargetCheck {
  return { what, target, measured, met };
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(headers), line(headers.map(() => "---")), ...rows.map(line)].join("\n");
}

export function codeBlock(text: string, language = "sh"): string {
  return ["```" + language, text.trimEnd(), "```"].join("\n");
}
