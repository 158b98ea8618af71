//! The one HTTP listener: accepts connections within [`limits`], finds each request's row in
//! [`routes`] (the only path table), reads its body within the row's cap, calls its handler,
//! and shuts down gracefully. `/healthz`, `/readyz`, `/metrics` and `/privacy.json` are
//! answered here; everything else by the floor that owns it ([`crate::ingest`],
//! [`crate::api`], [`crate::web`]). This module is the only one that imports the handlers.

pub(crate) mod limits;
pub(crate) mod routes;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::StatusCode;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::api::{self, Access};
use crate::config::LimitsConfig;
use crate::http::{
    self, CatchUnwind, DeadlineBody, HttpError, LargeBody, Panicked, Request, Response, plain, read_body,
    read_large_body,
};
use crate::ingest::Ingest;
use crate::privacy::client_ip::ClientKey;
use crate::telemetry::metrics::Metrics;
use crate::web::{self, matomo_js::MatomoScripts};
use limits::{ConnectionGate, IdleIo, InFlight};
use routes::{Handler, Route};

/// Everything a request may need.
pub struct Routes {
    pub ingest: Ingest,
    /// The settings that change while running (sites, privacy; see [`crate::live`]).
    pub live: Arc<crate::live::LiveSettings>,
    pub api: Access,
    pub metrics: Metrics,
    pub store: crate::store::Store,
    pub delivery: std::sync::Arc<crate::sink::DeliveryHealth>,
    pub proxies: crate::privacy::client_ip::TrustedProxies,
    pub limits: LimitsConfig,
    /// Who may read `/metrics` and `/readyz` on the public listener, and whether they are on a
    /// listener of their own instead.
    pub admin_networks: Vec<ipnet::IpNet>,
    pub separate_admin: bool,
    /// Matomo's tracker, rendered once per settings snapshot.
    pub matomo_scripts: MatomoScripts,
}

/// Which listener a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// `listen`: tracking, opt-out, stats API, dashboard; the admin pages for `admin_networks`
    /// only, and not at all when there is an admin listener.
    Public,
    /// `admin_listen`: `/healthz`, `/readyz` and `/metrics` only.
    Admin,
}

impl Routes {
    /// Answers one request: its row, its body within the row's cap, its handler.
    pub async fn route<B>(&self, request: hyper::Request<B>, peer: SocketAddr, listener: Listener) -> Response
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<http::body::BoxError>,
    {
        let started = std::time::Instant::now();
        let route = routes::find(request.method(), request.uri().path(), request.uri().query());
        if (listener == Listener::Admin && !route.is_admin_page())
            || (route.is_admin_only() && !self.may_see_admin_pages(request.headers(), peer, listener))
        {
            // An outsider learns nothing, not even that the page exists.
            let response = plain(StatusCode::NOT_FOUND, "not found\n");
            self.metrics.count_request("other", response.status(), started.elapsed());
            return response;
        }
        let mut response = match read(&route, request).await {
            // A large body's share of the memory budget is held until it is answered.
            Ok((request, _large_body)) => match CatchUnwind::new(self.dispatch(route.handler, &request, peer)).await {
                Ok(response) => response,
                Err(Panicked) => {
                    // A bug: answered, counted and logged by route, never with the request.
                    self.metrics.panics.inc();
                    tracing::error!(endpoint = route.endpoint, "a handler panicked; answered 500");
                    plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
                }
            },
            Err(error) => route.refuse(&error),
        };
        self.metrics.count_request(route.endpoint, response.status(), started.elapsed());
        web::security::nosniff(response.headers_mut());
        response
    }

    /// Calls the handler of a route.
    async fn dispatch(&self, handler: Handler, request: &Request, peer: SocketAddr) -> Response {
        let not_found = || plain(StatusCode::NOT_FOUND, "not found\n");
        match handler {
            Handler::MatomoTracking => self.ingest.matomo(request, peer).await,
            Handler::PlausibleEvent => self.ingest.plausible(request, peer).await,
            Handler::PianoEvent => self.ingest.piano(request, peer).await,
            Handler::PianoScript => web::piano_js::serve(),
            Handler::XitiHit => self.ingest.xiti(request, peer).await,
            Handler::MatomoScript => self.matomo_scripts.serve(&self.live.current(), request.headers()),
            Handler::TrackerScript => web::tracker::serve(request.uri().path()).unwrap_or_else(not_found),
            Handler::Dashboard => web::dashboard::serve(request.uri().path()).unwrap_or_else(not_found),
            Handler::PrivacyNotice => self.notice(request),
            Handler::OwnQuery => api::own::query(&self.api, request, self.caller(request, peer)).await,
            Handler::OwnSites => api::own::sites(&self.api, request, self.caller(request, peer)).await,
            Handler::OpenApi => api::openapi(),
            Handler::MatomoApi => api::matomo::handle(&self.api, request, self.caller(request, peer)).await,
            Handler::PlausibleV1(report) => {
                api::plausible::v1::report(&self.api, request, report, self.caller(request, peer)).await
            }
            Handler::PlausibleV2 => api::plausible::v2::handle(&self.api, request, self.caller(request, peer)).await,
            Handler::SignIn => api::session::sign_in(&self.api, request, self.caller(request, peer)).await,
            Handler::SignOut => api::session::sign_out(&self.api, request, self.caller(request, peer)),
            Handler::SignInLink => api::session::sign_in_link(&self.api, request, self.caller(request, peer)).await,
            Handler::MatomoOptOut => {
                web::matomo_optout::handle(request, self.https(request, peer), &self.facts(request))
            }
            Handler::OptOut => web::optout::handle(request, self.https(request, peer), &self.facts(request)),
            Handler::Health => plain(StatusCode::OK, "ok\n"),
            Handler::Ready => self.readiness().await,
            Handler::Metrics => self.metrics_page(),
            Handler::NoSuchApi => {
                let mut response = api::own::refuse(&api::Refusal::invalid("path", "no such endpoint"));
                *response.status_mut() = StatusCode::NOT_FOUND;
                response
            }
            Handler::NoSuchPlausibleReport => {
                http::json(StatusCode::NOT_FOUND, &serde_json::json!({"error": "Not found"}))
            }
            Handler::NotFound => not_found(),
            #[cfg(test)]
            Handler::Panic => panic!("a handler's bug {}", request.uri()),
        }
    }

    /// `/metrics` and `/readyz` tell which sites exist, how full the spool is and which bot
    /// detector fired: only on the admin listener when there is one, else only for the clients
    /// in `admin_networks`.
    fn may_see_admin_pages(&self, headers: &hyper::HeaderMap, peer: SocketAddr, listener: Listener) -> bool {
        match listener {
            Listener::Admin => true,
            Listener::Public => !self.separate_admin && self.proxies.client_within(peer, headers, &self.admin_networks),
        }
    }

    /// Whether the visitor reached us over HTTPS (for the `Secure` cookie flag): the current
    /// `public_url` says so (a reload changes it), or a trusted proxy does.
    /// Who asks, for the stats API: a keyed hash of the client address, and the scheme.
    fn caller(&self, request: &Request, peer: SocketAddr) -> api::access::Caller {
        let client = ClientKey::of(&self.proxies.client(peer, request.headers()));
        api::access::Caller { client, https: self.https(request, peer) }
    }

    fn https(&self, request: &Request, peer: SocketAddr) -> bool {
        let public_https = self.live.current().config.public_url.as_deref().is_some_and(|u| u.starts_with("https://"));
        public_https || self.proxies.forwarded_https(peer, request.headers())
    }

    /// The privacy facts of the site a page is opened for, or of every site.
    fn facts(&self, request: &Request) -> crate::summary::SiteFacts {
        let live = self.live.current();
        match site_of(&live, request) {
            Some(site) => crate::summary::SiteFacts::of(&live.config, site),
            None => crate::summary::SiteFacts::collector(&live.config),
        }
    }

    /// `GET /privacy.json?site=N`: the site's machine-readable privacy notice (public).
    fn notice(&self, request: &Request) -> Response {
        let live = self.live.current();
        match site_of(&live, request) {
            Some(site) => {
                let notice = crate::summary::SiteFacts::of(&live.config, site).notice();
                let mut response = http::json(StatusCode::OK, &notice);
                response.headers_mut().insert("access-control-allow-origin", HeaderValue::from_static("*"));
                response
            }
            None => plain(StatusCode::NOT_FOUND, "no such site: /privacy.json?site=N\n"),
        }
    }

    /// Ready when ClickHouse answers, every migration is recorded, and INSERTs succeed.
    async fn readiness(&self) -> Response {
        if self.delivery.is_failing() {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "degraded: INSERTs are failing; events wait in the spool\n");
        }
        let check = tokio::time::timeout(Duration::from_secs(2), self.store.all_migrations_applied());
        match check.await {
            Ok(Ok(true)) => plain(StatusCode::OK, "ready\n"),
            Ok(Ok(false)) => plain(StatusCode::SERVICE_UNAVAILABLE, "degraded: migrations not applied\n"),
            Ok(Err(error)) => {
                tracing::debug!(%error, "readiness check failed");
                plain(StatusCode::SERVICE_UNAVAILABLE, "degraded: ClickHouse unreachable\n")
            }
            Err(_) => plain(StatusCode::SERVICE_UNAVAILABLE, "degraded: ClickHouse timed out\n"),
        }
    }

    fn metrics_page(&self) -> Response {
        let mut response = plain(StatusCode::OK, &self.metrics.render());
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
        response
    }
}

/// Serves `listener` until `shutdown` resolves, then stops accepting and waits (at most
/// `drain_timeout`) for requests in flight to finish. Returns whether they all finished.
pub async fn serve(
    listener: TcpListener,
    kind: Listener,
    routes: Arc<Routes>,
    shutdown: impl Future<Output = ()>,
    drain_timeout: Duration,
) -> bool {
    let limits = routes.limits.clone();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.http2_max_streams)
        .max_header_list_size(limits.max_header_bytes as u32)
        // Rapid-reset: a client that keeps cancelling streams is sent away.
        .max_pending_accept_reset_streams(20)
        .max_local_error_reset_streams(100)
        .keep_alive_interval(limits.idle_timeout)
        .keep_alive_timeout(limits.header_read_timeout);
    let gate = ConnectionGate::new(limits.max_connections, limits.max_connections_per_client, routes.proxies.clone());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        // Typically EMFILE: back off briefly rather than spin.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let admission = match gate.admit(peer) {
                    Ok(admission) => admission,
                    Err(reason) => {
                        // Closed before a byte is read: the cheapest answer there is.
                        routes.metrics.connections_rejected.with_label_values(&[reason.as_str()]).inc();
                        drop(stream);
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let in_flight = Arc::new(InFlight::default());
                let io = IdleIo::new(stream, in_flight.clone(), limits.idle_timeout);
                let routes = routes.clone();
                let service_routes = routes.clone();
                let body_limit = limits.body_read_timeout;
                let service = service_fn(move |request: hyper::Request<Incoming>| {
                    let routes = service_routes.clone();
                    let busy = in_flight.start();
                    async move {
                        let request = request.map(|body| DeadlineBody::new(body, body_limit));
                        let response = routes.route(request, peer, kind).await;
                        drop(busy);
                        Ok::<_, Infallible>(response)
                    }
                });
                let connection = builder.serve_connection(TokioIo::new(io), service).into_owned();
                let connection = graceful.watch(connection);
                routes.metrics.connections_open.set(gate.open() as i64);
                let gate = gate.clone();
                tokio::spawn(async move {
                    // Client resets and timeouts are normal at this edge; only idle closes are
                    // counted (hyper's own header deadline ends the connection silently).
                    if let Err(error) = connection.await
                        && is_idle_close(&*error)
                    {
                        routes.metrics.connections_idle_closed.inc();
                    }
                    drop(admission);
                    routes.metrics.connections_open.set(gate.open() as i64);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("stopped accepting; finishing requests in flight");
    match tokio::time::timeout(drain_timeout, graceful.shutdown()).await {
        Ok(()) => true,
        Err(_) => {
            tracing::warn!(timeout = ?drain_timeout, "requests still in flight at the drain deadline");
            false
        }
    }
}

/// The request with its body read within the route's caps (and a large body's share of the
/// budget large bodies take together).
async fn read<B>(route: &Route, request: hyper::Request<B>) -> Result<(Request, Option<LargeBody>), HttpError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<http::body::BoxError>,
{
    if request.uri().query().is_some_and(|q| q.len() > route.query_cap) {
        return Err(HttpError::QueryTooLong(route.query_cap));
    }
    let (parts, body) = request.into_parts();
    let (body, large) = match (route.body_cap, route.large_body_cap) {
        (0, _) => (Bytes::new(), None),
        (cap, 0) => (read_body(&parts.headers, body, cap).await?, None),
        (cap, large_cap) => read_large_body(&parts.headers, body, cap, large_cap).await?,
    };
    Ok((Request::from_parts(parts, body), large))
}

/// Whether a connection ended on the idle deadline of [`IdleIo`].
fn is_idle_close(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// The site a page is opened for: `?site=N` (or Matomo's `idsite=N`).
fn site_of<'a>(live: &'a crate::live::Live, request: &Request) -> Option<&'a crate::config::SiteConfig> {
    let params = http::Params::parse(request.uri().query()?).ok()?;
    let id = params.get("site").or_else(|| params.get("idsite"))?.trim().parse::<u32>().ok()?;
    live.sites.get(id)
}

#[cfg(test)]
mod tests;
