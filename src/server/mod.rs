//! The one HTTP listener: accepts connections within [`limits`], routes each request, and shuts
//! down gracefully.
//!
//! Tracking endpoints go to [`crate::ingest`]; `/healthz`, `/readyz` and `/metrics` are answered
//! here. Routing is a plain `match` on the path: the hot path pays for nothing else.

pub(crate) mod limits;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::service::service_fn;
use hyper::{Method, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::config::LimitsConfig;
use crate::ingest::{Body, Ingest, plain};
use crate::telemetry::metrics::Metrics;
use limits::{ConnectionGate, DeadlineBody, IdleIo, InFlight};

/// A request as the handlers see it: its body has the `limits.body_read_timeout` deadline.
pub type Request<B = RequestBody> = hyper::Request<B>;
pub type RequestBody = DeadlineBody<Incoming>;

/// Everything a request may need.
pub struct Routes {
    pub ingest: Ingest,
    /// The settings that change while running (sites, privacy; see [`crate::live`]).
    pub live: Arc<crate::live::LiveSettings>,
    pub api: crate::web::api::Api,
    pub metrics: Metrics,
    pub store: crate::store::Store,
    pub delivery: std::sync::Arc<crate::sink::DeliveryHealth>,
    /// Whether the collector is reached over HTTPS (its `public_url`), for the `Secure` cookie.
    pub public_https: bool,
    pub proxies: crate::privacy::client_ip::TrustedProxies,
    pub limits: LimitsConfig,
    /// Who may read `/metrics` and `/readyz` on the public listener, and whether they are on a
    /// listener of their own instead.
    pub admin_networks: Vec<ipnet::IpNet>,
    pub separate_admin: bool,
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
    async fn route(&self, request: Request, peer: SocketAddr, listener: Listener) -> Response<Body> {
        let started = std::time::Instant::now();
        let path = request.uri().path();
        let admin_page = matches!(path, "/healthz" | "/readyz" | "/metrics");
        if (listener == Listener::Admin && !admin_page)
            || (matches!(path, "/readyz" | "/metrics") && !self.may_see_admin_pages(&request, peer, listener))
        {
            // An outsider learns nothing, not even that the page exists.
            let response = plain(StatusCode::NOT_FOUND, "not found\n");
            self.metrics.count_request("other", response.status(), started.elapsed());
            return response;
        }
        let (endpoint, response) = match path {
            "/matomo.php" | "/piwik.php" => ("matomo", self.ingest.matomo(request, peer).await),
            "/matomo.js" | "/piwik.js" => ("script", self.live.current().matomo_script.serve(request.headers())),
            // Matomo's tracker proxy: the script when asked for it, the tracking endpoint otherwise.
            "/js/" | "/js/tracker.php"
                if request.method() == Method::GET && request.uri().query().is_none_or(str::is_empty) =>
            {
                ("script", self.live.current().matomo_script.serve(request.headers()))
            }
            "/js/" | "/js/tracker.php" => ("matomo", self.ingest.matomo(request, peer).await),
            "/api/event" => ("plausible", self.ingest.plausible(request, peer).await),
            // mesure.js, and Plausible's script names (/js/script.hash.js, /js/pa-….js).
            p if p == "/mesure.js" || (p.starts_with("/js/") && p.ends_with(".js")) => {
                ("script", crate::web::tracker::serve(p).unwrap_or_else(|| plain(StatusCode::NOT_FOUND, "not found\n")))
            }
            "/privacy.json" => ("notice", self.notice(&request)),
            p if p.starts_with("/api/v1/") || p == "/api/v2/query" || p == "/signin" => {
                let secure = self.https(&request, peer);
                ("api", self.api.handle(request, secure).await)
            }
            p if p == "/" || p.starts_with("/share/") || p.starts_with("/assets/") => (
                "dashboard",
                crate::web::dashboard::serve(p).unwrap_or_else(|| plain(StatusCode::NOT_FOUND, "not found\n")),
            ),
            // Matomo's opt-out page and script, at Matomo's URLs.
            "/index.php" => {
                let (secure, facts) = (self.https(&request, peer), self.facts(&request));
                ("optout", crate::web::matomo_optout::handle(request, secure, &facts).await)
            }
            "/optout" => {
                let (secure, facts) = (self.https(&request, peer), self.facts(&request));
                ("optout", crate::web::optout::handle(request, secure, &facts).await)
            }
            "/healthz" => ("healthz", plain(StatusCode::OK, "ok\n")),
            "/readyz" => ("readyz", self.readiness().await),
            "/metrics" if request.method() == Method::GET => ("metrics", self.metrics_page()),
            _ => ("other", plain(StatusCode::NOT_FOUND, "not found\n")),
        };
        self.metrics.count_request(endpoint, response.status(), started.elapsed());
        let mut response = response;
        crate::web::security::nosniff(response.headers_mut());
        response
    }

    /// `/metrics` and `/readyz` tell which sites exist, how full the spool is and which bot
    /// detector fired: only on the admin listener when there is one, else only for the clients
    /// in `admin_networks`.
    fn may_see_admin_pages(&self, request: &Request, peer: SocketAddr, listener: Listener) -> bool {
        match listener {
            Listener::Admin => true,
            Listener::Public => {
                !self.separate_admin && self.proxies.client_within(peer, request.headers(), &self.admin_networks)
            }
        }
    }

    /// Whether the visitor reached us over HTTPS (for the `Secure` cookie flag).
    fn https(&self, request: &Request, peer: SocketAddr) -> bool {
        self.public_https || self.proxies.forwarded_https(peer, request.headers())
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
    fn notice(&self, request: &Request) -> Response<Body> {
        let live = self.live.current();
        match site_of(&live, request) {
            Some(site) => {
                let notice = crate::summary::SiteFacts::of(&live.config, site).notice();
                let mut response = crate::ingest::json(StatusCode::OK, &notice);
                response
                    .headers_mut()
                    .insert("access-control-allow-origin", hyper::header::HeaderValue::from_static("*"));
                response
            }
            None => plain(StatusCode::NOT_FOUND, "no such site: /privacy.json?site=N\n"),
        }
    }

    /// Ready when ClickHouse answers, every migration is recorded, and INSERTs succeed.
    async fn readiness(&self) -> Response<Body> {
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

    fn metrics_page(&self) -> Response<Body> {
        let mut response = plain(StatusCode::OK, &self.metrics.render());
        response
            .headers_mut()
            .insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
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
    let params = crate::ingest::params::Params::parse(request.uri().query()?).ok()?;
    let id = params.get("site").or_else(|| params.get("idsite"))?.trim().parse::<u32>().ok()?;
    live.sites.get(id)
}
