//! City-level geolocation from a local `.mmdb` (docs/privacy.md A3–A5).
//!
//! Works with MaxMind GeoIP2/GeoLite2-City and DB-IP City Lite files (same record layout). Only
//! the country ISO code, the first subdivision (ISO code and English name) and the English city
//! name are decoded, into borrowed strings; location, postcode, accuracy radius and networks are
//! never read. The reader sits behind an `ArcSwap` and is replaced without a restart when the
//! file is atomically replaced ([`Geo::reload_if_changed`], called by a background task).
//!
//! Decoded places are cached by their record's offset in the file's data section: many addresses
//! share one record (a city), and decoding it is most of a look-up's cost. The cache key is a
//! database offset, never an address, and the cache goes with the file it belongs to.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwapOption;
use maxminddb::Reader;
use serde::Deserialize;

use crate::privacy::client_ip::ClientIp;

/// Where a visitor is, at the finest: a city.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    pub country_code: String,
    pub region_code: String,
    pub region_name: String,
    pub city: String,
}

#[derive(Deserialize)]
struct CityRecord<'a> {
    #[serde(borrow)]
    country: Option<IsoCode<'a>>,
    #[serde(borrow)]
    subdivisions: Option<Vec<Subdivision<'a>>>,
    #[serde(borrow)]
    city: Option<Named<'a>>,
}

#[derive(Deserialize)]
struct IsoCode<'a> {
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct Subdivision<'a> {
    iso_code: Option<&'a str>,
    #[serde(borrow)]
    names: Option<English<'a>>,
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    names: Option<English<'a>>,
}

#[derive(Deserialize)]
struct English<'a> {
    en: Option<&'a str>,
}

/// Identifies one version of the file on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> std::io::Result<FileStamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)?;
    Ok(FileStamp { modified: meta.modified().ok(), len: meta.len(), inode: meta.ino() })
}

struct Loaded {
    reader: Reader<Vec<u8>>,
    stamp: FileStamp,
    /// Places by data-section offset (see the module docs).
    places: quick_cache::sync::Cache<usize, Arc<Place>>,
}

/// Places kept decoded: a City database has about a hundred thousand distinct records, and
/// traffic concentrates on far fewer.
const PLACE_CACHE_ENTRIES: usize = 20_000;

/// The geolocation stage.
pub struct Geo {
    path: Option<PathBuf>,
    mask_before_lookup: bool,
    current: ArcSwapOption<Loaded>,
}

#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("cannot read the geo database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: maxminddb::MaxMindDbError,
    },
    #[error("{path} is a {kind} database, not a City database")]
    NotCity { path: PathBuf, kind: String },
}

impl Geo {
    /// Opens `path` (if any). Without a path, every look-up is empty.
    pub fn open(path: Option<&Path>, mask_before_lookup: bool) -> Result<Geo, GeoError> {
        let geo = Geo { path: path.map(Path::to_path_buf), mask_before_lookup, current: ArcSwapOption::empty() };
        if let Some(path) = path {
            geo.current.store(Some(Arc::new(load(path)?)));
        }
        Ok(geo)
    }

    /// A stage that never finds anything.
    pub fn disabled() -> Geo {
        Geo { path: None, mask_before_lookup: false, current: ArcSwapOption::empty() }
    }

    pub fn is_enabled(&self) -> bool {
        self.current.load().is_some()
    }

    /// The database's type from its metadata (`GeoIP2-City`, `GeoLite2-City`, `DBIP-City-Lite`...).
    pub(crate) fn database_type(&self) -> Option<String> {
        self.current.load().as_ref().map(|l| l.reader.metadata().database_type.clone())
    }

    /// The database's build time (Unix seconds), for the metrics.
    pub(crate) fn build_epoch(&self) -> Option<u64> {
        self.current.load().as_ref().map(|l| l.reader.metadata().build_epoch)
    }

    /// Looks the visitor up; empty when there is no database or no record.
    pub(crate) fn locate(&self, ip: &ClientIp) -> Place {
        let guard = self.current.load();
        let Some(loaded) = guard.as_ref() else { return Place::default() };
        let address = if self.mask_before_lookup { ip.masked().addr() } else { ip.addr() };
        lookup(loaded, address).unwrap_or_default()
    }

    /// Re-opens the file if it changed on disk. Returns whether a new database is in use.
    pub(crate) fn reload_if_changed(&self) -> Result<bool, GeoError> {
        let Some(path) = &self.path else { return Ok(false) };
        let Ok(now) = stamp(path) else { return Ok(false) };
        if self.current.load().as_ref().is_some_and(|l| l.stamp == now) {
            return Ok(false);
        }
        self.current.store(Some(Arc::new(load(path)?)));
        Ok(true)
    }
}

fn load(path: &Path) -> Result<Loaded, GeoError> {
    let stamp = stamp(path)
        .map_err(|e| GeoError::Open { path: path.to_path_buf(), source: maxminddb::MaxMindDbError::Io(e) })?;
    let reader = Reader::open_readfile(path).map_err(|source| GeoError::Open { path: path.to_path_buf(), source })?;
    let kind = reader.metadata().database_type.clone();
    if !kind.to_ascii_lowercase().contains("city") {
        return Err(GeoError::NotCity { path: path.to_path_buf(), kind });
    }
    Ok(Loaded { reader, stamp, places: quick_cache::sync::Cache::new(PLACE_CACHE_ENTRIES) })
}

fn lookup(loaded: &Loaded, address: IpAddr) -> Option<Place> {
    // An IPv6 address in an IPv4-only database is an error, not a miss: treat both as "unknown".
    let result = loaded.reader.lookup(address).ok()?;
    let offset = result.offset()?;
    if let Some(place) = loaded.places.get(&offset) {
        return Some(Place::clone(&place));
    }
    let record: CityRecord<'_> = result.decode().ok()??;
    let first = record.subdivisions.as_ref().and_then(|s| s.first());
    let place = Place {
        country_code: record.country.and_then(|c| c.iso_code).unwrap_or_default().to_string(),
        region_code: first.and_then(|s| s.iso_code).unwrap_or_default().to_string(),
        region_name: first.and_then(|s| s.names.as_ref()).and_then(|n| n.en).unwrap_or_default().to_string(),
        city: record.city.and_then(|c| c.names).and_then(|n| n.en).unwrap_or_default().to_string(),
    };
    loaded.places.insert(offset, Arc::new(place.clone()));
    Some(place)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const TEST_DB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/geo/test-data/GeoIP2-City-Test.mmdb");

    fn at(geo: &Geo, ip: &str) -> Place {
        geo.locate(&ClientIp::new(ip.parse().unwrap()))
    }

    #[test]
    fn documented_addresses_of_the_official_test_database() {
        let geo = Geo::open(Some(Path::new(TEST_DB)), false).unwrap();
        let london = at(&geo, "81.2.69.142");
        assert_eq!(
            london,
            Place {
                country_code: "GB".into(),
                region_code: "ENG".into(),
                region_name: "England".into(),
                city: "London".into()
            }
        );
        let linkoping = at(&geo, "89.160.20.128");
        assert_eq!(
            (linkoping.country_code.as_str(), linkoping.region_code.as_str(), linkoping.city.as_str()),
            ("SE", "E", "Linköping")
        );
        assert_eq!(at(&geo, "2.125.160.216").city, "Boxford");
        let japan = at(&geo, "2001:218::1");
        assert_eq!((japan.country_code.as_str(), japan.city.as_str()), ("JP", ""));
        assert_eq!(at(&geo, "203.0.113.45"), Place::default());
    }

    #[test]
    fn repeated_look_ups_come_from_the_record_cache_and_agree() {
        let geo = Geo::open(Some(Path::new(TEST_DB)), false).unwrap();
        let ips = ["81.2.69.142", "89.160.20.128", "2.125.160.216", "2001:218::1", "175.16.199.37"];
        let first: Vec<Place> = ips.iter().map(|ip| at(&geo, ip)).collect();
        let cached = geo.current.load().as_ref().unwrap().places.len();
        assert_eq!(cached, ips.len(), "one decoded place per record");
        let again: Vec<Place> = ips.iter().map(|ip| at(&geo, ip)).collect();
        assert_eq!(first, again);
        assert_eq!(geo.current.load().as_ref().unwrap().places.len(), cached, "served from the cache");
        // A miss is not cached (there is no record to key it by).
        assert_eq!(at(&geo, "203.0.113.45"), Place::default());
        assert_eq!(geo.current.load().as_ref().unwrap().places.len(), cached);
    }

    #[test]
    fn masking_looks_up_the_network() {
        let masked = Geo::open(Some(Path::new(TEST_DB)), true).unwrap();
        let plain = Geo::open(Some(Path::new(TEST_DB)), false).unwrap();
        for ip in ["175.16.199.37", "81.2.69.142", "2001:480:10::1234", "89.160.20.128"] {
            let network = ClientIp::new(ip.parse().unwrap()).masked();
            assert_eq!(at(&masked, ip), plain.locate(&network), "{ip}");
        }
        assert_eq!(at(&masked, "175.16.199.37").city, "Changchun");
    }

    #[test]
    fn no_database_means_empty_places() {
        assert_eq!(at(&Geo::disabled(), "81.2.69.142"), Place::default());
        assert!(!Geo::disabled().is_enabled());
    }

    #[test]
    fn a_replaced_file_is_picked_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("city.mmdb");
        std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/geo/test-data/GeoLite2-City-Test.mmdb"), &path).unwrap();
        let geo = Geo::open(Some(&path), false).unwrap();
        assert_eq!(geo.database_type().as_deref(), Some("GeoLite2-City"));
        assert!(!geo.reload_if_changed().unwrap());
        // Atomic replacement: write beside, then rename over.
        let tmp = dir.path().join("city.mmdb.tmp");
        std::fs::copy(TEST_DB, &tmp).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert!(geo.reload_if_changed().unwrap());
        assert_eq!(geo.database_type().as_deref(), Some("GeoIP2-City"));
        assert_eq!(at(&geo, "81.2.69.142").city, "London");
    }

    #[test]
    fn non_city_databases_are_refused() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/geo/test-data/LICENSE-MIT");
        assert!(Geo::open(Some(Path::new(path)), false).is_err());
    }
}
