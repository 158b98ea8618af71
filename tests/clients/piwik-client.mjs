// Matomo's Reporting API through `piwik-client` (npm, the client of a ministry's dashboards),
// unchanged. Prints one JSON object of the answers.
//
//   node piwik-client.mjs BASE_URL TOKEN
//
// The client reads the port of its URL but never keeps it (it always connects to 80 or 443):
// the test sets its `settings.apiport`, the one setting it has for that.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const PiwikClient = require('piwik-client');

const [base, token] = process.argv.slice(2);
const client = new PiwikClient(`${base}/index.php`, token);
client.settings.apiport = new URL(base).port;

const call = (vars) =>
  new Promise((resolve) => client.api(vars, (error, data) => resolve(error ? { error } : data)));

const answers = {
  summary: await call({ method: 'VisitsSummary.get', idSite: 1, period: 'day', date: 'yesterday' }),
  bulk: await call({
    method: 'API.getBulkRequest',
    'urls[0]': 'method=VisitsSummary.get&idSite=1&period=range&date=previous2',
    'urls[1]': 'method=Referrers.getReferrerType&idSite=1&period=day&date=yesterday&showColumns=nb_visits',
  }),
  refused: await call({ method: 'VisitsSummary.get', idSite: 2, period: 'day', date: 'yesterday' }),
};
console.log(JSON.stringify(answers));
