import { randomBytes } from "node:crypto";
import type { Context } from "hono";
import { html } from "hono/html";
import { Layout } from "./layout";

export type ErrorStatus = 400 | 404 | 405 | 500 | 503;

const TITLES: Record<ErrorStatus, string> = {
  400: "Bad request",
  404: "Not found",
  405: "Method not allowed",
  500: "Internal error",
  503: "Unavailable",
};

/** A page that says what went wrong and where to go from there: never a bare text answer. */
export function ErrorPage(props: {
  status: ErrorStatus;
  message: string;
  nonce: string | undefined;
}) {
  return (
    <Layout title={`${props.status} ${TITLES[props.status]}`} nonce={props.nonce}>
      <h1 id="error" data-status={String(props.status)}>
        {TITLES[props.status]}
      </h1>
      <p>{props.message}</p>
      <p>
        <a href="/">All canaries</a> · <a href="/admin/queues">Queue</a>
      </p>
    </Layout>
  );
}

/** Does the caller read HTML (a browser), rather than JSON or text (curl, Flagger)? */
export const wantsHtml = (c: Context) => (c.req.header("accept") ?? "").includes("text/html");

/**
 * The styled error page, under the dashboard's CSP: with the nonce of the page headers when
 * the route has them, else its own (404s and errors outside the dashboard's routes).
 */
export function errorPage(
  c: Context,
  status: ErrorStatus,
  message: string,
): Response | Promise<Response> {
  let nonce = (c.get as (key: string) => unknown)("secureHeadersNonce") as string | undefined;
  if (!nonce) {
    nonce = randomBytes(16).toString("base64");
    c.header(
      "Content-Security-Policy",
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    );
    c.header("X-Content-Type-Options", "nosniff");
  }
  return c.html(
    html`<!doctype html>${(<ErrorPage status={status} message={message} nonce={nonce} />)}`,
    status,
  );
}
