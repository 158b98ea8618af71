// Signing in to the dashboard in headless Chromium.
//   node dashboard-signin.mjs BASE_URL ARTIFACT_DIR sign-in TOKEN
//     pastes the token, reloads (still signed in), signs out, signs in again; prints the
//     session cookie as the browser keeps it.
//   node dashboard-signin.mjs BASE_URL ARTIFACT_DIR revoked COOKIE_JSON
//     with that cookie, after the token was revoked: waits (reloading) for the sign-in form.
//   node dashboard-signin.mjs BASE_URL ARTIFACT_DIR link LINK
//     follows a one-time sign-in link, then follows it again in another browser.
import path from "node:path";
import { launch } from "./common.mjs";

const [base, artifacts, mode, arg] = process.argv.slice(2);
const browser = await launch();
const out = { errors: [] };
const signedIn = (page) => page.waitForSelector("#top-visitors .value", { timeout: 10000 });
const loginShown = (page) => page.$eval("#login", (f) => !f.hidden);
try {
  const context = await browser.newContext({ locale: "en-GB" });
  const page = await context.newPage();
  page.on("pageerror", (e) => out.errors.push(String(e)));
  if (mode === "sign-in") {
    await page.goto(base + "/");
    await page.waitForSelector("#login:not([hidden])");
    out.login_at_first = await loginShown(page);
    await page.fill("#token", arg);
    await page.press("#token", "Enter");
    await signedIn(page);
    out.cookies = await context.cookies();
    await page.reload();
    await signedIn(page);
    await page.waitForLoadState("networkidle");
    out.login_after_reload = await loginShown(page);
    out.signout_shown = await page.isVisible("#signout");
    await page.screenshot({ path: path.join(artifacts, "dashboard-signed-in.png") });
    await page.click("#signout");
    await page.waitForSelector("#login:not([hidden])");
    await page.reload();
    await page.waitForSelector("#login:not([hidden])");
    out.login_after_signout = await loginShown(page);
    out.cookies_after_signout = await context.cookies();
    await page.fill("#token", arg);
    await page.press("#token", "Enter");
    await signedIn(page);
    out.cookie = (await context.cookies()).find((c) => c.name === "mesure_session");
  } else if (mode === "revoked") {
    await context.addCookies([JSON.parse(arg)]);
    out.login_after_revoke = false;
    for (let i = 0; i < 30 && !out.login_after_revoke; i++) {
      await page.goto(base + "/");
      await page.waitForLoadState("networkidle");
      await page.waitForTimeout(300);
      out.login_after_revoke = await loginShown(page);
      if (!out.login_after_revoke) await page.waitForTimeout(700);
    }
  } else if (mode === "link") {
    await page.goto(arg);
    await signedIn(page);
    out.landed = new URL(page.url()).pathname + new URL(page.url()).search;
    out.login_after_link = await loginShown(page);
    await page.screenshot({ path: path.join(artifacts, "dashboard-sign-in-link.png") });
    const other = await browser.newContext();
    const again = await other.newPage();
    const response = await again.goto(arg);
    out.second_use = { status: response.status(), text: (await again.textContent("body")).trim() };
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
