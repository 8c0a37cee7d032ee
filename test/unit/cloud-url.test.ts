import { describe, expect, it } from "vitest";
import { findCloudUrl } from "../../apps/worker/src/k6/cloud-url";

/** What `k6 cloud run --local-execution --no-color` (k6 v2.2.0) prints before the test. */
const grafanaCloudBanner = `
         /\\      Grafana   /‾‾/  
    /\\  /  \\     |\\  __   /  /   
   /  \\/    \\    | |/ /  /   ‾‾\\ 
  /          \\   |   (  |  (‾)  |
 / __________ \\  |_|\\_\\  \\_____/ 

time="2026-11-27T07:45:30Z" level=warning msg="No projectID specified, using default project of the stack-321 stack\\n"

     execution: local
        script: script.js
        output: cloud (https://acme.grafana.net/a/k6-app/runs/4815162)

     scenarios: (100.00%) 1 scenario, 2 max VUs, 1m0s max duration (incl. graceful stop):
              * default: 2 looping VUs for 30s (gracefulStop: 30s)

running (00m01.0s), 2/2 VUs, 14 complete and 0 interrupted iterations
default   [   3% ] 2 VUs  00m01.0s/30s
`;

/** What `k6 run --out cloud` printed with a legacy k6 Cloud (app.k6.io) account. */
const legacyBanner = `
          /\\      |‾‾| /‾‾/   /‾‾/   
     /\\  /  \\     |  |/  /   /  /    
    /  \\/    \\    |     (   /   ‾‾\\  
   /          \\   |  |\\  \\ |  (‾)  | 
  / __________ \\  |__| \\__\\ \\_____/ .io

  execution: local
     script: /tmp/k6-gate-run-x1/script.js
     output: cloud (https://app.k6.io/runs/1723445)

  scenarios: (100.00%) 1 scenario, 10 max VUs, 1m0s max duration (incl. graceful stop):
           * default: 10 looping VUs for 30s (gracefulStop: 30s)
`;

describe("findCloudUrl", () => {
  it("reads a Grafana Cloud k6 run address from k6 v2's banner", () => {
    expect(findCloudUrl(grafanaCloudBanner)).toBe("https://acme.grafana.net/a/k6-app/runs/4815162");
  });

  it("reads a legacy app.k6.io run address", () => {
    expect(findCloudUrl(legacyBanner)).toBe("https://app.k6.io/runs/1723445");
  });

  it("finds the cloud among several outputs", () => {
    expect(
      findCloudUrl(
        "     output: json (results.json), cloud (https://acme.grafana.net/a/k6-app/runs/7)\n",
      ),
    ).toBe("https://acme.grafana.net/a/k6-app/runs/7");
  });

  it("ignores look-alike addresses a script prints, and banners without the cloud", () => {
    const scriptLog =
      'time="2026-11-27T07:45:30Z" level=info msg="previous run: https://app.k6.io/runs/42 output: cloud (https://app.k6.io/runs/43)" source=console\n';
    expect(findCloudUrl(scriptLog)).toBeNull();
    expect(findCloudUrl(legacyBanner.replace(/output: .*/, "output: -"))).toBeNull();
    expect(findCloudUrl("")).toBeNull();
  });
});
