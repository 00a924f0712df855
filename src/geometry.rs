//! GeoJSON areas (village boundaries, search and alert areas) checked and
//! turned into `geo` shapes. Coordinates are WGS-84 `[lon, lat]`.

use geo::{
    Area, BoundingRect, Contains, Coord, Intersects, LineString, MultiPolygon, Point, Polygon,
};
use serde_json::Value;

use crate::validate::{FieldError, FieldResult, err};

const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A validated area and its bounding box.
#[derive(Debug, Clone)]
pub struct Region {
    pub shape: MultiPolygon<f64>,
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
}

impl Region {
    pub fn from_multipolygon(shape: MultiPolygon<f64>) -> Option<Region> {
        let r = shape.bounding_rect()?;
        Some(Region {
            min_lon: r.min().x,
            min_lat: r.min().y,
            max_lon: r.max().x,
            max_lat: r.max().y,
            shape,
        })
    }

    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        lon >= self.min_lon
            && lon <= self.max_lon
            && lat >= self.min_lat
            && lat <= self.max_lat
            && (self.shape.contains(&Point::new(lon, lat))
                || self.shape.intersects(&Point::new(lon, lat)))
    }

    pub fn intersects(&self, other: &Region) -> bool {
        self.min_lon <= other.max_lon
            && other.min_lon <= self.max_lon
            && self.min_lat <= other.max_lat
            && other.min_lat <= self.max_lat
            && self.shape.intersects(&other.shape)
    }
}

/// Parses a GeoJSON Polygon or MultiPolygon geometry (a bare geometry or a
/// Feature wrapping one).
pub fn parse_area(field: &str, v: &Value) -> FieldResult<Region> {
    let obj = match v {
        Value::Object(o) => o,
        _ => return err(field, "must be a GeoJSON Polygon or MultiPolygon object"),
    };
    if obj.get("type").and_then(Value::as_str) == Some("Feature") {
        return match obj.get("geometry") {
            Some(g) => parse_area(&format!("{field}.geometry"), g),
            None => err(field, "Feature has no geometry"),
        };
    }
    let coords = obj
        .get("coordinates")
        .ok_or_else(|| fe(field, "has no coordinates"))?;
    let shape = match obj.get("type").and_then(Value::as_str) {
        Some("Polygon") => MultiPolygon(vec![polygon(&format!("{field}.coordinates"), coords)?]),
        Some("MultiPolygon") => {
            let polys = coords.as_array().ok_or_else(|| {
                fe(
                    &format!("{field}.coordinates"),
                    "must be an array of polygons",
                )
            })?;
            if polys.is_empty() {
                return err(
                    format!("{field}.coordinates"),
                    "must hold at least one polygon",
                );
            }
            let mut out = Vec::with_capacity(polys.len());
            for (i, p) in polys.iter().enumerate() {
                out.push(polygon(&format!("{field}.coordinates[{i}]"), p)?);
            }
            MultiPolygon(out)
        }
        Some(other) => {
            return err(
                format!("{field}.type"),
                format!("'{other}' is not supported; use Polygon or MultiPolygon"),
            );
        }
        None => return err(format!("{field}.type"), "is missing"),
    };
    if shape.unsigned_area() <= 0.0 {
        return err(field, "encloses no area");
    }
    Region::from_multipolygon(shape).ok_or_else(|| fe(field, "encloses no area"))
}

fn polygon(field: &str, v: &Value) -> FieldResult<Polygon<f64>> {
    let rings = v
        .as_array()
        .ok_or_else(|| fe(field, "must be an array of linear rings"))?;
    if rings.is_empty() {
        return err(field, "must hold an outer ring");
    }
    let mut parsed = Vec::with_capacity(rings.len());
    for (i, r) in rings.iter().enumerate() {
        parsed.push(ring(&format!("{field}[{i}]"), r)?);
    }
    let exterior = parsed.remove(0);
    Ok(Polygon::new(exterior, parsed))
}

fn ring(field: &str, v: &Value) -> FieldResult<LineString<f64>> {
    let pts = v
        .as_array()
        .ok_or_else(|| fe(field, "must be an array of [lon, lat] positions"))?;
    if pts.len() < 4 {
        return err(
            field,
            "a ring needs at least 4 positions (first and last equal)",
        );
    }
    let mut coords = Vec::with_capacity(pts.len());
    for (i, p) in pts.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let arr = p.as_array().ok_or_else(|| fe(&f, "must be [lon, lat]"))?;
        if arr.len() < 2 || arr.len() > 3 {
            return err(f, "must be [lon, lat]");
        }
        let lon = arr[0]
            .as_f64()
            .ok_or_else(|| fe(&f, "longitude must be a number"))?;
        let lat = arr[1]
            .as_f64()
            .ok_or_else(|| fe(&f, "latitude must be a number"))?;
        crate::validate::lon_lat(&f, lon, lat)?;
        coords.push(Coord { x: lon, y: lat });
    }
    if coords.first() != coords.last() {
        return err(
            field,
            "ring is not closed: the last position must equal the first",
        );
    }
    Ok(LineString(coords))
}

fn fe(field: &str, message: &str) -> FieldError {
    FieldError {
        field: field.to_string(),
        message: message.to_string(),
    }
}

/// Great-circle distance in metres.
pub fn distance_m(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// Degrees of latitude and longitude spanned by `radius_m` around `lat`, for
/// a bounding-box prefilter.
pub fn degree_span(lat: f64, radius_m: f64) -> (f64, f64) {
    let dlat = (radius_m / EARTH_RADIUS_M).to_degrees();
    let cos = lat.to_radians().cos().abs().max(1e-6);
    (dlat / cos, dlat)
}

/// A circle as a 64-gon, for intersection tests against village boundaries.
pub fn circle_area(lon: f64, lat: f64, radius_m: f64) -> Option<Region> {
    let (dlon, dlat) = degree_span(lat, radius_m);
    let mut pts: Vec<Coord<f64>> = (0..64)
        .map(|i| {
            let t = f64::from(i) / 64.0 * std::f64::consts::TAU;
            Coord {
                x: lon + dlon * t.cos(),
                y: lat + dlat * t.sin(),
            }
        })
        .collect();
    pts.push(pts[0]);
    Region::from_multipolygon(MultiPolygon(vec![Polygon::new(LineString(pts), vec![])]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_and_contains() {
        let a = parse_area(
            "boundary",
            &json!({"type":"Polygon","coordinates":[[[118.0,25.0],[118.1,25.0],[118.1,25.1],[118.0,25.1],[118.0,25.0]]]}),
        )
        .unwrap();
        assert!(a.contains(118.05, 25.05));
        assert!(!a.contains(118.15, 25.05));
    }

    #[test]
    fn rejects_bad_shapes() {
        let open = json!({"type":"Polygon","coordinates":[[[118.0,25.0],[118.1,25.0],[118.1,25.1],[118.0,25.1]]]});
        assert_eq!(
            parse_area("b", &open).unwrap_err().field,
            "b.coordinates[0]"
        );
        let point = json!({"type":"Point","coordinates":[118.0,25.0]});
        assert_eq!(parse_area("b", &point).unwrap_err().field, "b.type");
        let range = json!({"type":"Polygon","coordinates":[[[218.0,25.0],[118.1,25.0],[118.1,25.1],[218.0,25.0]]]});
        assert!(parse_area("b", &range).is_err());
        let flat = json!({"type":"Polygon","coordinates":[[[118.0,25.0],[118.1,25.0],[118.2,25.0],[118.0,25.0]]]});
        assert!(parse_area("b", &flat).is_err());
    }

    #[test]
    fn distance_is_plausible() {
        // One degree of latitude is about 111.2 km.
        let d = distance_m(118.0, 25.0, 118.0, 26.0);
        assert!((d - 111_195.0).abs() < 100.0, "{d}");
    }
}
