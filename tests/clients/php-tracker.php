<?php
// Matomo's official PHP tracker (tests/clients/php/MatomoTracker.php, vendored unchanged)
// against a running collector, as a site's server-side code uses it.
//   php php-tracker.php COLLECTOR_BASE_URL SERVER_TOKEN
// Prints one JSON object with the collector's answers; the Rust test checks what was stored.
require __DIR__ . '/php/MatomoTracker.php';

$base = $argv[1];
$token = $argv[2];
$firefox = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
$answers = [];

// Single hits from a web page's server side, passing the visitor's browser on.
$tracker = new MatomoTracker(1, $base);
$tracker->setUserAgent($firefox);
$tracker->setUrl('https://example.org/php/single');
$tracker->setUrlReferrer('https://www.qwant.com/?q=opening+hours');
$answers['single'] = strlen((string) $tracker->doTrackPageView('PHP single'));
// A visitor id chosen by the site (`cid`), without the token: the hit is kept.
$tracker->setVisitorId('0123456789abcdef');
$tracker->setUrl('https://example.org/php/event');
$answers['event'] = strlen((string) $tracker->doTrackEvent('Video', 'Play', 'Intro'));
$tracker->setUrl('https://example.org/php/search');
$answers['search'] = strlen((string) $tracker->doTrackSiteSearch('Opening Hours', 'pages', 3));

// Bulk tracking, without the token. The tracker forgets the user agent after each queued
// action (so one visitor's is not copied to the next), so it is set for each.
$bulk = new MatomoTracker(1, $base);
$bulk->enableBulkTracking();
for ($i = 1; $i <= 3; $i++) {
    $bulk->setUserAgent($firefox);
    $bulk->setUrl("https://example.org/php/bulk/$i");
    $bulk->doTrackPageView("Bulk $i");
}
$answers['bulk'] = json_decode((string) $bulk->doBulkTrack(), true);

// With the site's token: the visitor's address (`cip`), a hit from two hours ago, no user agent
// (a server-side job), single and in bulk.
$server = new MatomoTracker(1, $base);
$server->setTokenAuth($token);
$server->setIp('81.2.69.142');
$server->setForceVisitDateTime(gmdate('Y-m-d H:i:s', time() - 2 * 3600));
$server->setUrl('https://example.org/php/server');
$answers['server'] = strlen((string) $server->doTrackPageView('Server side'));
$server->enableBulkTracking();
$server->setUrl('https://example.org/php/server-bulk');
$server->doTrackPageView('Server bulk');
$answers['server_bulk'] = json_decode((string) $server->doBulkTrack(), true);

echo json_encode($answers);
