import { formatChange, formatStat, passedRevisionsText, type Comparison } from "@k6-gate/shared";

/**
 * "Against earlier revisions": metric | this run | baseline | change, the baseline being
 * the median of the canary's last passed revisions (same phase and script).
 */
export function ComparisonTable(props: { comparison: Comparison | undefined; canaryRuns: string }) {
  const { comparison } = props;
  if (!comparison) return null;
  return (
    <>
      <h2>Against earlier revisions</h2>
      {comparison.baselineRuns === 0 ? (
        <p id="baseline" class="muted">
          No baseline yet: no passed run of an earlier revision of this canary ran this script in
          this phase.
        </p>
      ) : (
        <p id="baseline" class="muted">
          Baseline: the median of the last {passedRevisionsText(comparison.baselineRuns)} (same
          phase and script); see the <a href={props.canaryRuns}>canary's runs</a>.
        </p>
      )}
      <div class="scroll">
        <table id="comparison">
          <thead>
            <tr>
              <th>Metric</th>
              <th class="num">This run</th>
              <th class="num">Baseline</th>
              <th class="num">Change</th>
              <th>Limit</th>
            </tr>
          </thead>
          <tbody>
            {comparison.entries.map((entry) => (
              <tr class={entry.regressed ? "failed" : ""}>
                <td>
                  <code>{entry.key}</code>
                </td>
                <td class="num">{formatStat(entry.key, entry.observed)}</td>
                <td class="num">{formatStat(entry.key, entry.baseline)}</td>
                <td class="num">{formatChange(entry) ?? "–"}</td>
                <td>
                  {entry.limit === null ? (
                    <span class="muted">none</span>
                  ) : (
                    <>
                      <code>{entry.limit}</code>{" "}
                      <span class={`badge ${entry.regressed ? "fail" : "pass"}`}>
                        {entry.regressed ? "regressed" : "within"}
                      </span>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
