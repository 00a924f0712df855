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

/// How large an area a request may bring: corners per ring, rings per
/// polygon (and polygons per multipolygon), and the box `[west, south, east,
/// north]` every position must lie in. Checked before anything is built, so
/// a huge posted polygon costs nothing but its reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoLimits {
    pub vertices: usize,
    pub rings: usize,
    pub region: [f64; 4],
}

impl GeoLimits {
    /// For areas already stored: they were checked when written.
    pub const STORED: GeoLimits = GeoLimits {
        vertices: usize::MAX,
        rings: usize::MAX,
        region: [-180.0, -90.0, 180.0, 90.0],
    };
}

/// Parses a GeoJSON Polygon or MultiPolygon geometry (a bare geometry or a
/// Feature wrapping one) within `limits`.
pub fn parse_area(field: &str, v: &Value, limits: &GeoLimits) -> FieldResult<Region> {
    let obj = match v {
        Value::Object(o) => o,
        _ => return err(field, "must be a GeoJSON Polygon or MultiPolygon object"),
    };
    if obj.get("type").and_then(Value::as_str) == Some("Feature") {
        return match obj.get("geometry") {
            Some(g) => parse_area(&format!("{field}.geometry"), g, limits),
            None => err(field, "Feature has no geometry"),
        };
    }
    let coords = obj
        .get("coordinates")
        .ok_or_else(|| fe(field, "has no coordinates"))?;
    let shape = match obj.get("type").and_then(Value::as_str) {
        Some("Polygon") => MultiPolygon(vec![polygon(
            &format!("{field}.coordinates"),
            coords,
            limits,
        )?]),
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
            if polys.len() > limits.rings {
                return err(
                    format!("{field}.coordinates"),
                    format!(
                        "holds {} polygons; at most {} are accepted",
                        polys.len(),
                        limits.rings
                    ),
                );
            }
            let mut out = Vec::with_capacity(polys.len());
            for (i, p) in polys.iter().enumerate() {
                out.push(polygon(&format!("{field}.coordinates[{i}]"), p, limits)?);
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

fn polygon(field: &str, v: &Value, limits: &GeoLimits) -> FieldResult<Polygon<f64>> {
    let rings = v
        .as_array()
        .ok_or_else(|| fe(field, "must be an array of linear rings"))?;
    if rings.is_empty() {
        return err(field, "must hold an outer ring");
    }
    if rings.len() > limits.rings {
        return err(
            field,
            format!(
                "holds {} rings; at most {} are accepted",
                rings.len(),
                limits.rings
            ),
        );
    }
    let mut parsed = Vec::with_capacity(rings.len());
    for (i, r) in rings.iter().enumerate() {
        parsed.push(ring(&format!("{field}[{i}]"), r, limits)?);
    }
    let exterior = parsed.remove(0);
    Ok(Polygon::new(exterior, parsed))
}

fn ring(field: &str, v: &Value, limits: &GeoLimits) -> FieldResult<LineString<f64>> {
    let pts = v
        .as_array()
        .ok_or_else(|| fe(field, "must be an array of [lon, lat] positions"))?;
    if pts.len() < 4 {
        return err(
            field,
            "a ring needs at least 4 positions (first and last equal)",
        );
    }
    if pts.len() > limits.vertices {
        return err(
            field,
            format!(
                "has {} positions; at most {} are accepted per ring",
                pts.len(),
                limits.vertices
            ),
        );
    }
    let [west, south, east, north] = limits.region;
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
        if !(west..=east).contains(&lon) || !(south..=north).contains(&lat) {
            return err(
                f,
                format!(
                    "[{lon}, {lat}] lies outside the area this office serves ({west}–{east}°E, {south}–{north}°N)"
                ),
            );
        }
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

/// Every point within `radius_m` metres of a centre, measured along the
/// great circle ([`distance_m`]). A circle target or a search near a point
/// is tested with this exactly; no polygon stands in for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Circle {
    pub lon: f64,
    pub lat: f64,
    pub radius_m: f64,
}

/// Slack added to a circle's box, in degrees (about a centimetre): the box
/// must never be narrower than the circle, rounding included.
const BOX_SLACK_DEG: f64 = 1e-7;

impl Circle {
    pub fn new(lon: f64, lat: f64, radius_m: f64) -> Circle {
        Circle { lon, lat, radius_m }
    }

    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        distance_m(self.lon, self.lat, lon, lat) <= self.radius_m
    }

    /// `[west, south, east, north]` holding every point of the circle, for
    /// an SQL prefilter. The circle is widest north (south) of its centre's
    /// parallel, asin(sin d / cos lat) in longitude, a little more than
    /// d / cos lat; a circle reaching a pole or the 180° meridian spans
    /// every longitude.
    pub fn bounds(&self) -> [f64; 4] {
        let d = self.radius_m.max(0.0) / EARTH_RADIUS_M;
        let dlat = d.to_degrees() + BOX_SLACK_DEG;
        let (south, north) = (self.lat - dlat, self.lat + dlat);
        if north >= 90.0 || south <= -90.0 {
            return [-180.0, south.max(-90.0), 180.0, north.min(90.0)];
        }
        let cos = self.lat.to_radians().cos();
        let dlon = (d.sin() / cos).min(1.0).asin().to_degrees() + BOX_SLACK_DEG;
        let (west, east) = (self.lon - dlon, self.lon + dlon);
        if west <= -180.0 || east >= 180.0 {
            return [-180.0, south, 180.0, north];
        }
        [west, south, east, north]
    }

    /// Whether any point of `region` (inside or on its boundary) lies
    /// within the radius: the centre is inside it, or the nearest point of
    /// one of its edges is near enough. Edges are straight in longitude and
    /// latitude, as GeoJSON draws them and as [`Region::contains`] reads them.
    pub fn touches(&self, region: &Region) -> bool {
        let [west, south, east, north] = self.bounds();
        if region.max_lon < west
            || region.min_lon > east
            || region.max_lat < south
            || region.min_lat > north
        {
            return false;
        }
        if region.contains(self.lon, self.lat) {
            return true;
        }
        region.shape.0.iter().any(|poly| {
            std::iter::once(poly.exterior())
                .chain(poly.interiors())
                .flat_map(LineString::lines)
                .any(|edge| {
                    let (a, b) = (edge.start, edge.end);
                    // An edge outside the circle's box has no point in it.
                    a.x.max(b.x) >= west
                        && a.x.min(b.x) <= east
                        && a.y.max(b.y) >= south
                        && a.y.min(b.y) <= north
                        && self.reaches_edge(a, b)
                })
        })
    }

    /// Whether some point of the edge a–b lies within the radius. Along a
    /// straight edge the distance falls and then rises (the circles around
    /// the centre are convex at any radius allowed here), so a
    /// golden-section search finds the nearest point to well under a
    /// millimetre.
    fn reaches_edge(&self, a: Coord<f64>, b: Coord<f64>) -> bool {
        let at = |t: f64| {
            distance_m(
                self.lon,
                self.lat,
                a.x + t * (b.x - a.x),
                a.y + t * (b.y - a.y),
            )
        };
        if at(0.0) <= self.radius_m || at(1.0) <= self.radius_m {
            return true;
        }
        let g = (5f64.sqrt() - 1.0) / 2.0;
        let (mut lo, mut hi) = (0.0, 1.0);
        let (mut x1, mut x2) = (hi - g * (hi - lo), lo + g * (hi - lo));
        let (mut f1, mut f2) = (at(x1), at(x2));
        // 0.618^60 of an edge: far below a millimetre for any edge on Earth.
        for _ in 0..60 {
            if f1.min(f2) <= self.radius_m {
                return true;
            }
            if f1 <= f2 {
                hi = x2;
                (x2, f2) = (x1, f1);
                x1 = hi - g * (hi - lo);
                f1 = at(x1);
            } else {
                lo = x1;
                (x1, f1) = (x2, f2);
                x2 = lo + g * (hi - lo);
                f2 = at(x2);
            }
        }
        f1.min(f2) <= self.radius_m
    }
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
            &GeoLimits::STORED,
        )
        .unwrap();
        assert!(a.contains(118.05, 25.05));
        assert!(!a.contains(118.15, 25.05));
    }

    #[test]
    fn rejects_bad_shapes() {
        let open = json!({"type":"Polygon","coordinates":[[[118.0,25.0],[118.1,25.0],[118.1,25.1],[118.0,25.1]]]});
        assert_eq!(
            parse_area("b", &open, &GeoLimits::STORED)
                .unwrap_err()
                .field,
            "b.coordinates[0]"
        );
        let point = json!({"type":"Point","coordinates":[118.0,25.0]});
        assert_eq!(
            parse_area("b", &point, &GeoLimits::STORED)
                .unwrap_err()
                .field,
            "b.type"
        );
        let range = json!({"type":"Polygon","coordinates":[[[218.0,25.0],[118.1,25.0],[118.1,25.1],[218.0,25.0]]]});
        assert!(parse_area("b", &range, &GeoLimits::STORED).is_err());
        let flat = json!({"type":"Polygon","coordinates":[[[118.0,25.0],[118.1,25.0],[118.2,25.0],[118.0,25.0]]]});
        assert!(parse_area("b", &flat, &GeoLimits::STORED).is_err());
    }

    #[test]
    fn distance_is_plausible() {
        // One degree of latitude is about 111.2 km.
        let d = distance_m(118.0, 25.0, 118.0, 26.0);
        assert!((d - 111_195.0).abs() < 100.0, "{d}");
    }

    /// A closed ring through `corners`, as GeoJSON positions.
    fn ring_json(corners: &[(f64, f64)]) -> Value {
        let mut pts: Vec<Value> = corners.iter().map(|(x, y)| json!([x, y])).collect();
        pts.push(pts[0].clone());
        Value::Array(pts)
    }

    fn polygon_json(rings: &[&[(f64, f64)]]) -> Value {
        json!({"type": "Polygon", "coordinates": rings.iter().map(|r| ring_json(r)).collect::<Vec<_>>()})
    }

    fn square(x: f64, y: f64, side: f64) -> [(f64, f64); 4] {
        [(x, y), (x + side, y), (x + side, y + side), (x, y + side)]
    }

    /// The lower-left half of the 0.1° square at 118°E 25°N.
    const LOWER_LEFT: [(f64, f64); 3] = [(118.0, 25.0), (118.1, 25.0), (118.0, 25.1)];

    fn area(v: &Value) -> Region {
        parse_area("area", v, &GeoLimits::STORED).unwrap()
    }

    fn refusal(v: &Value) -> (String, String) {
        let e = parse_area("area", v, &GeoLimits::STORED).unwrap_err();
        (e.field, e.message)
    }

    fn pair(field: &str, message: &str) -> (String, String) {
        (field.to_string(), message.to_string())
    }

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn an_area_knows_its_bounding_box() {
        let a = area(&polygon_json(&[&LOWER_LEFT]));
        assert_eq!(
            (a.min_lon, a.min_lat, a.max_lon, a.max_lat),
            (118.0, 25.0, 118.1, 25.1)
        );
        assert_eq!(a.shape.0.len(), 1);
    }

    #[test]
    fn a_point_in_the_corner_of_the_box_but_outside_a_triangle_is_outside() {
        let a = area(&polygon_json(&[&LOWER_LEFT]));
        assert!(a.contains(118.02, 25.02));
        assert!(!a.contains(118.08, 25.08));
        assert!(!a.contains(117.99, 25.02));
        assert!(!a.contains(118.02, 25.11));
        assert!(!a.contains(118.02, 24.99));
    }

    #[test]
    fn a_point_on_the_boundary_counts_as_inside() {
        let a = area(&polygon_json(&[&square(118.0, 25.0, 0.1)]));
        assert!(a.contains(118.0, 25.05)); // west edge
        assert!(a.contains(118.1, 25.1)); // north-east corner
        assert!(a.contains(118.05, 25.0)); // south edge
        assert!(!a.contains(118.1 + 1e-9, 25.05));
    }

    #[test]
    fn a_point_in_a_hole_is_outside() {
        let a = area(&polygon_json(&[
            &square(118.0, 25.0, 0.3),
            &square(118.1, 25.1, 0.1),
        ]));
        assert!(a.contains(118.05, 25.05));
        assert!(!a.contains(118.15, 25.15));
        assert!(a.contains(118.25, 25.25));
    }

    #[test]
    fn areas_meet_when_their_shapes_meet() {
        let a = area(&polygon_json(&[&square(118.0, 25.0, 0.1)]));
        let overlapping = area(&polygon_json(&[&square(118.05, 25.05, 0.1)]));
        let touching = area(&polygon_json(&[&square(118.1, 25.0, 0.1)]));
        let north = area(&polygon_json(&[&square(118.0, 25.2, 0.1)]));
        let east = area(&polygon_json(&[&square(118.2, 25.0, 0.1)]));
        let inside = area(&polygon_json(&[&square(118.02, 25.02, 0.01)]));
        for (other, meets) in [
            (&overlapping, true),
            (&touching, true),
            (&inside, true),
            (&north, false),
            (&east, false),
        ] {
            assert_eq!(a.intersects(other), meets, "{:?}", other.shape);
            assert_eq!(other.intersects(&a), meets, "{:?}", other.shape);
        }
    }

    #[test]
    fn areas_whose_boxes_overlap_but_shapes_do_not_are_apart() {
        let lower_left = area(&polygon_json(&[&LOWER_LEFT]));
        let upper_right = area(&polygon_json(&[&[
            (118.1, 25.1),
            (118.05, 25.1),
            (118.1, 25.05),
        ]]));
        assert!(!lower_left.intersects(&upper_right));
        assert!(!upper_right.intersects(&lower_left));
    }

    #[test]
    fn a_feature_is_read_through_to_its_geometry() {
        let feature = json!({"type": "Feature", "properties": {"name": "东村"},
                             "geometry": polygon_json(&[&LOWER_LEFT])});
        assert!(area(&feature).contains(118.02, 25.02));
        assert_eq!(
            refusal(&json!({"type": "Feature", "properties": {}})),
            pair("area", "Feature has no geometry")
        );
        let open = json!({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []}});
        assert_eq!(
            refusal(&open),
            pair("area.geometry.coordinates", "must hold an outer ring")
        );
    }

    #[test]
    fn a_multipolygon_covers_each_of_its_parts() {
        let v = json!({"type": "MultiPolygon", "coordinates": [
            [ring_json(&square(118.0, 25.0, 0.1))],
            [ring_json(&square(118.3, 25.3, 0.1))],
        ]});
        let a = area(&v);
        assert!(a.contains(118.05, 25.05));
        assert!(a.contains(118.35, 25.35));
        assert!(!a.contains(118.2, 25.2));
        assert_eq!(
            (a.min_lon, a.min_lat, a.max_lon, a.max_lat),
            (118.0, 25.0, 118.3 + 0.1, 25.3 + 0.1)
        );
    }

    #[test]
    fn each_refusal_names_the_offending_field() {
        let sq = ring_json(&square(118.0, 25.0, 0.1));
        for (v, field, message) in [
            (
                json!([1, 2]),
                "area",
                "must be a GeoJSON Polygon or MultiPolygon object",
            ),
            (json!({"type": "Polygon"}), "area", "has no coordinates"),
            (json!({"coordinates": [sq]}), "area.type", "is missing"),
            (
                json!({"type": "LineString", "coordinates": [[118.0, 25.0], [118.1, 25.0]]}),
                "area.type",
                "'LineString' is not supported; use Polygon or MultiPolygon",
            ),
            (
                json!({"type": "MultiPolygon", "coordinates": {}}),
                "area.coordinates",
                "must be an array of polygons",
            ),
            (
                json!({"type": "MultiPolygon", "coordinates": []}),
                "area.coordinates",
                "must hold at least one polygon",
            ),
            (
                json!({"type": "MultiPolygon", "coordinates": [[sq], [[[118.0, 25.0]]]]}),
                "area.coordinates[1][0]",
                "a ring needs at least 4 positions (first and last equal)",
            ),
            (
                json!({"type": "Polygon", "coordinates": "x"}),
                "area.coordinates",
                "must be an array of linear rings",
            ),
            (
                json!({"type": "Polygon", "coordinates": [sq, 5]}),
                "area.coordinates[1]",
                "must be an array of [lon, lat] positions",
            ),
        ] {
            assert_eq!(refusal(&v), pair(field, message), "{v}");
        }
    }

    #[test]
    fn a_ring_needs_four_positions_with_the_last_equal_to_the_first() {
        // A triangle is the smallest ring: three corners and the first again.
        let triangle = area(&polygon_json(&[&LOWER_LEFT]));
        assert!(triangle.contains(118.02, 25.02));
        let three = json!({"type": "Polygon",
                           "coordinates": [[[118.0, 25.0], [118.1, 25.0], [118.0, 25.0]]]});
        assert_eq!(
            refusal(&three),
            pair(
                "area.coordinates[0]",
                "a ring needs at least 4 positions (first and last equal)"
            )
        );
        let open = json!({"type": "Polygon", "coordinates": [[
            [118.0, 25.0], [118.1, 25.0], [118.1, 25.1], [118.0, 25.1], [118.0, 25.05]
        ]]});
        assert_eq!(
            refusal(&open),
            pair(
                "area.coordinates[0]",
                "ring is not closed: the last position must equal the first"
            )
        );
    }

    #[test]
    fn positions_are_lon_lat_with_an_optional_altitude() {
        let with_altitude = json!({"type": "Polygon", "coordinates": [[
            [118.0, 25.0, 12.5], [118.1, 25.0, 13.0], [118.0, 25.1, 9.0], [118.0, 25.0, 12.5]
        ]]});
        assert!(area(&with_altitude).contains(118.02, 25.02));
        for (position, field, message) in [
            (
                json!([118.1]),
                "area.coordinates[0][1]",
                "must be [lon, lat]",
            ),
            (
                json!([118.1, 25.0, 1.0, 2.0]),
                "area.coordinates[0][1]",
                "must be [lon, lat]",
            ),
            (
                json!("118.1,25.0"),
                "area.coordinates[0][1]",
                "must be [lon, lat]",
            ),
            (
                json!(["118.1", 25.0]),
                "area.coordinates[0][1]",
                "longitude must be a number",
            ),
            (
                json!([118.1, null]),
                "area.coordinates[0][1]",
                "latitude must be a number",
            ),
            (
                json!([25.0, 118.1]),
                "area.coordinates[0][1]",
                "latitude must be between -90 and 90",
            ),
        ] {
            let v = json!({"type": "Polygon", "coordinates": [[
                [118.0, 25.0], position, [118.0, 25.1], [118.0, 25.0]
            ]]});
            assert_eq!(refusal(&v), pair(field, message), "{v}");
        }
    }

    #[test]
    fn a_shape_without_area_is_refused() {
        let line = json!({"type": "Polygon", "coordinates": [[
            [118.0, 25.0], [118.1, 25.1], [118.0, 25.0], [118.0, 25.0]
        ]]});
        assert_eq!(refusal(&line), pair("area", "encloses no area"));
    }

    #[test]
    fn distances_match_the_haversine_formula() {
        // Reference values from the same formula evaluated independently (Python, f64).
        for ((lon1, lat1, lon2, lat2), want) in [
            ((0.0, 0.0, 1.0, 0.0), 111_195.080_233_532_9), // a degree along the equator
            ((118.0, 60.0, 119.0, 60.0), 55_597.010_864_896_9), // along the 60th parallel
            (
                (116.4074, 39.9042, 121.4737, 31.2304),
                1_067_311.645_158_726,
            ), // Beijing-Shanghai
            ((118.0, 25.0, 118.1, 25.1), 15_004.021_669_948),
        ] {
            let d = distance_m(lon1, lat1, lon2, lat2);
            assert!(close(d, want, 1e-6), "{d} != {want}");
            let back = distance_m(lon2, lat2, lon1, lat1);
            assert!(close(back, want, 1e-6), "{back} != {want}");
        }
        assert_eq!(distance_m(118.6, 24.9, 118.6, 24.9), 0.0);
    }

    /// The point `d` metres from (lon, lat) on the initial bearing
    /// `bearing` (degrees clockwise from north), on the same sphere as
    /// [`distance_m`].
    fn destination(lon: f64, lat: f64, bearing: f64, d: f64) -> (f64, f64) {
        let (p1, l1, th, dr) = (
            lat.to_radians(),
            lon.to_radians(),
            bearing.to_radians(),
            d / EARTH_RADIUS_M,
        );
        let p2 = (p1.sin() * dr.cos() + p1.cos() * dr.sin() * th.cos()).asin();
        let l2 = l1 + (th.sin() * dr.sin() * p1.cos()).atan2(dr.cos() - p1.sin() * p2.sin());
        (l2.to_degrees(), p2.to_degrees())
    }

    #[test]
    fn a_circle_holds_what_lies_within_its_radius_in_every_direction() {
        let c = Circle::new(118.6, 24.9, 5_000.0);
        // Every 1.4°, so many directions fall between the corners a
        // polygon standing in for the circle would have.
        for i in 0..256 {
            let bearing = f64::from(i) * 360.0 / 256.0;
            let (x, y) = destination(c.lon, c.lat, bearing, 4_999.99);
            assert!(close(distance_m(c.lon, c.lat, x, y), 4_999.99, 1e-6));
            assert!(c.contains(x, y), "4999.99 m at {bearing}°");
            let (x, y) = destination(c.lon, c.lat, bearing, 5_000.01);
            assert!(!c.contains(x, y), "5000.01 m at {bearing}°");
        }
        assert!(c.contains(c.lon, c.lat));
    }

    #[test]
    fn a_circles_box_holds_its_widest_points() {
        // Far from the equator the widest point lies poleward of the
        // centre, beyond d / cos(lat) degrees of longitude.
        for (lat, r) in [
            (24.9, 5_000.0),
            (50.0, 200_000.0),
            (-50.0, 200_000.0),
            (0.0, 1_000.0),
        ] {
            let c = Circle::new(118.0, lat, r);
            let [w, s, e, n] = c.bounds();
            let mut widest: f64 = 0.0;
            for i in 0..36_000 {
                let (x, y) = destination(c.lon, c.lat, f64::from(i) / 100.0, r);
                assert!(
                    (w..=e).contains(&x) && (s..=n).contains(&y),
                    "{lat} {r}: ({x}, {y}) outside {w} {s} {e} {n}"
                );
                widest = widest.max(x - c.lon);
            }
            let naive = (r / EARTH_RADIUS_M).to_degrees() / lat.to_radians().cos();
            if lat.abs() > 40.0 {
                assert!(widest > naive + 1e-4, "{lat}: {widest} {naive}");
            }
            // And hardly wider than the circle.
            assert!(e - c.lon - widest < 1e-6, "{lat}: {e} {widest}");
        }
        // Across the 180° meridian or over a pole: every longitude.
        assert_eq!(Circle::new(179.99, 10.0, 5_000.0).bounds()[0], -180.0);
        let polar = Circle::new(10.0, 89.99, 5_000.0).bounds();
        assert_eq!((polar[0], polar[2], polar[3]), (-180.0, 180.0, 90.0));
    }

    /// A triangle whose edge crosses the bearing `bearing` from the
    /// circle's centre at right angles, `d` metres out, its corners 300 m
    /// to either side (so outside the circle). Short, so the straight edge
    /// and the great circle through its corners part by millimetres only.
    fn edge_at(c: &Circle, bearing: f64, d: f64) -> Region {
        let (x, y) = destination(c.lon, c.lat, bearing, d);
        let (ax, ay) = destination(x, y, bearing - 90.0, 300.0);
        let (bx, by) = destination(x, y, bearing + 90.0, 300.0);
        let (fx, fy) = destination(x, y, bearing, 2_000.0);
        area(&polygon_json(&[&[(ax, ay), (bx, by), (fx, fy)]]))
    }

    #[test]
    fn a_circle_touches_an_area_its_radius_reaches() {
        let c = Circle::new(118.0, 25.0, 1_000.0);
        for bearing in [0.0, 45.0, 90.0, 135.0, 200.0, 300.0] {
            assert!(c.touches(&edge_at(&c, bearing, 999.0)), "{bearing}");
            assert!(!c.touches(&edge_at(&c, bearing, 1_001.0)), "{bearing}");
        }
        // The centre inside: touched, however far the edges.
        assert!(c.touches(&area(&polygon_json(&[&square(117.5, 24.5, 1.0)]))));
        // The centre in a hole far from the hole's edges: not touched.
        let holed = area(&polygon_json(&[
            &square(117.5, 24.5, 1.0),
            &square(117.9, 24.9, 0.2),
        ]));
        assert!(!c.touches(&holed));
        // Far away: not touched, box or no box.
        assert!(!c.touches(&area(&polygon_json(&[&square(118.5, 25.5, 0.1)]))));
    }

    /// A ring of `n` positions on a small circle around (118.0, 25.2), closed.
    fn many_corners(n: usize) -> Value {
        let mut pts: Vec<Value> = (0..n - 1)
            .map(|i| {
                let a = i as f64 / (n - 1) as f64 * std::f64::consts::TAU;
                json!([118.0 + 0.01 * a.cos(), 25.2 + 0.01 * a.sin()])
            })
            .collect();
        pts.push(pts[0].clone());
        json!({"type": "Polygon", "coordinates": [pts]})
    }

    const SMALL: GeoLimits = GeoLimits {
        vertices: 100,
        rings: 2,
        region: [117.5, 24.7, 118.5, 25.7],
    };

    #[test]
    fn a_ring_over_the_corner_limit_is_refused_naming_it() {
        assert!(parse_area("area", &many_corners(100), &SMALL).is_ok());
        let e = parse_area("area", &many_corners(101), &SMALL).unwrap_err();
        assert_eq!(e.field, "area.coordinates[0]");
        assert!(
            e.message.contains("101") && e.message.contains("100"),
            "{}",
            e.message
        );
    }

    #[test]
    fn too_many_rings_or_polygons_are_refused() {
        let ring = json!([[118.0, 25.0], [118.1, 25.0], [118.1, 25.1], [118.0, 25.0]]);
        let hole = json!([
            [118.05, 25.01],
            [118.08, 25.01],
            [118.08, 25.03],
            [118.05, 25.01]
        ]);
        let two = json!({"type": "Polygon", "coordinates": [ring, hole]});
        assert!(parse_area("area", &two, &SMALL).is_ok());
        let three = json!({"type": "Polygon", "coordinates": [ring, hole, hole]});
        assert_eq!(
            parse_area("area", &three, &SMALL).unwrap_err().field,
            "area.coordinates"
        );
        let many = json!({"type": "MultiPolygon", "coordinates": [[ring], [ring], [ring]]});
        assert_eq!(
            parse_area("area", &many, &SMALL).unwrap_err().field,
            "area.coordinates"
        );
    }

    #[test]
    fn positions_outside_the_served_region_are_refused() {
        let inside = json!({"type": "Polygon", "coordinates": [[[118.0, 25.0], [118.5, 25.0], [118.5, 25.7], [118.0, 25.0]]]});
        assert!(
            parse_area("area", &inside, &SMALL).is_ok(),
            "the box's edges count as inside"
        );
        for (lon, lat) in [
            (118.51, 25.0),
            (117.49, 25.0),
            (118.0, 25.71),
            (118.0, 24.69),
        ] {
            let outside = json!({"type": "Polygon", "coordinates": [[[118.0, 25.0], [lon, lat], [118.2, 25.3], [118.0, 25.0]]]});
            let e = parse_area("area", &outside, &SMALL).unwrap_err();
            assert_eq!(e.field, "area.coordinates[0][1]", "{lon},{lat}");
        }
    }
}
