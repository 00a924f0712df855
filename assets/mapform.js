/* The small maps on the forms, over the villages from /web/map.json.
   - #pick-map (site and shelter forms): a click on the map sets the
     longitude/latitude inputs and a marker; dragging the marker moves them;
     "use my location" asks the browser (a phone's GPS). Typed numbers still
     work and move the marker.
   - #draw-map (village form): the boundary drawn, edited and deleted with the
     vendored Leaflet-Geoman; every change is written into the GeoJSON
     textarea, which is what the form sends. Pasting GeoJSON there, or
     importing a file, redraws the map.
   Coordinates are WGS-84, longitude first in GeoJSON as stored. */
(function () {
  'use strict';
  if (!window.L) { return; }
  var lang = document.body.getAttribute('data-lang') === 'en' ? 'en' : 'zh';

  function fetchData(src, done) {
    var x = new XMLHttpRequest();
    x.open('GET', src);
    x.onload = function () {
      var data = null;
      if (x.status === 200) {
        try { data = JSON.parse(x.responseText); } catch (e) { data = null; }
      }
      done(data);
    };
    x.onerror = function () { done(null); };
    x.send();
  }

  function baseMap(el) {
    var map = L.map(el, { attributionControl: false, zoomSnap: 0.5 });
    map.setView([25.2, 118.0], 12);
    return map;
  }

  // Other villages as a guide (no tiles are needed): grey outlines with
  // their names, not editable; the drawing snaps to their corners.
  function context(map, data, skip) {
    if (data && data.tiles) { L.tileLayer(data.tiles, { maxZoom: 19 }).addTo(map); }
    var features = data && data.villages ? data.villages.features : [];
    var labelled = [];
    var layer = L.geoJSON({ type: 'FeatureCollection', features: features }, {
      filter: function (f) { return String(f.properties.id) !== skip; },
      style: { color: '#6b7785', weight: 1.2, dashArray: '4 3', fillColor: '#9ecae1', fillOpacity: 0.08 },
      interactive: false,
      pmIgnore: true,
      snapIgnore: false,
      onEachFeature: function (f, l) {
        var s = document.createElement('span');
        s.textContent = f.properties.name;
        l.bindTooltip(s, { permanent: true, direction: 'center', className: 'village-label' });
        labelled.push(l);
      }
    }).addTo(map);
    // As on the map page: a name that would cover another waits until the
    // map is zoomed in; the icon goes when zoomed out.
    function place() {
      var el = map.getContainer();
      el.classList.toggle('mid', map.getZoom() < 13);
      var placed = [];
      for (var i = 0; i < labelled.length; i++) {
        var t = labelled[i].getTooltip();
        var e = t && t.getElement();
        if (!e) { continue; }
        e.classList.remove('overlap');
        var r = e.getBoundingClientRect();
        var hit = false;
        for (var j = 0; j < placed.length && !hit; j++) {
          var p = placed[j];
          hit = r.left < p.right && r.right > p.left && r.top < p.bottom && r.bottom > p.top;
        }
        if (hit) { e.classList.add('overlap'); } else { placed.push(r); }
      }
    }
    map.on('zoomend moveend', place);
    layer.place = place;
    return layer;
  }

  function say(el, text) {
    if (el) { el.textContent = text || ''; }
  }

  // ---- A point: site and shelter forms ----
  function picker(el) {
    var lon = document.getElementById(el.getAttribute('data-lon'));
    var lat = document.getElementById(el.getAttribute('data-lat'));
    var status = document.getElementById('pick-status');
    if (!lon || !lat) { return; }
    var map = baseMap(el);
    var marker = null;
    var api = { map: map, marker: function () { return marker; } };
    window.fhPick = api;

    function typed() {
      var a = parseFloat(lat.value);
      var o = parseFloat(lon.value);
      if (!isFinite(a) || !isFinite(o) || a < -90 || a > 90 || o < -180 || o > 180) { return null; }
      return L.latLng(a, o);
    }
    function write(ll) {
      lon.value = ll.lng.toFixed(6);
      lat.value = ll.lat.toFixed(6);
    }
    function put(ll) {
      if (!marker) {
        marker = L.marker(ll, { draggable: true, autoPan: true, title: el.getAttribute('data-l-marker') }).addTo(map);
        marker.on('dragend', function () {
          write(marker.getLatLng());
          say(status, el.getAttribute('data-l-moved'));
        });
      } else {
        marker.setLatLng(ll);
      }
    }
    map.on('click', function (e) {
      put(e.latlng);
      write(e.latlng);
      say(status, el.getAttribute('data-l-picked'));
    });
    function fromInputs() {
      var ll = typed();
      if (ll) {
        put(ll);
        map.panTo(ll);
      }
    }
    lon.addEventListener('change', fromInputs);
    lat.addEventListener('change', fromInputs);

    var here = document.getElementById('pick-here');
    if (here) {
      if (!navigator.geolocation) {
        here.disabled = true;
      }
      here.addEventListener('click', function () {
        if (!navigator.geolocation) { return; }
        say(status, el.getAttribute('data-l-locating'));
        navigator.geolocation.getCurrentPosition(function (p) {
          var ll = L.latLng(p.coords.latitude, p.coords.longitude);
          put(ll);
          write(ll);
          map.setView(ll, Math.max(map.getZoom(), 16));
          say(status, el.getAttribute('data-l-located') + ' ±' + Math.round(p.coords.accuracy) + ' m');
        }, function () {
          say(status, el.getAttribute('data-l-nolocation'));
        }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
      });
    }

    fetchData(el.getAttribute('data-src'), function (data) {
      var villages = context(map, data, '');
      var ll = typed();
      if (ll) {
        put(ll);
        map.setView(ll, 15);
      } else if (villages.getLayers().length && villages.getBounds().isValid()) {
        map.fitBounds(villages.getBounds(), { padding: [10, 10] });
      }
      villages.place();
      el.setAttribute('data-ready', '1');
    });
  }

  // ---- A boundary: the village form ----

  // GeoJSON (a geometry, a Feature or a FeatureCollection) → a list of
  // polygons, each a list of rings of [lon, lat]; null if it is not one.
  function polygons(v) {
    if (!v || typeof v !== 'object') { return null; }
    if (v.type === 'FeatureCollection' && v.features instanceof Array) {
      var all = [];
      for (var i = 0; i < v.features.length; i++) {
        var p = polygons(v.features[i]);
        if (p) { all = all.concat(p); }
      }
      return all.length ? all : null;
    }
    if (v.type === 'Feature') { return polygons(v.geometry); }
    if (v.type === 'Polygon' && v.coordinates instanceof Array) { return [v.coordinates]; }
    if (v.type === 'MultiPolygon' && v.coordinates instanceof Array) { return v.coordinates; }
    return null;
  }

  function geometry(list) {
    if (!list.length) { return null; }
    if (list.length === 1) { return { type: 'Polygon', coordinates: list[0] }; }
    return { type: 'MultiPolygon', coordinates: list };
  }

  function drawer(el) {
    var field = document.getElementById(el.getAttribute('data-field'));
    var status = document.getElementById('draw-status');
    if (!field || !L.PM) { return; }
    var map = baseMap(el);
    var shapes = L.featureGroup().addTo(map);
    var api = { map: map, shapes: shapes };
    window.fhDraw = api;
    map.pm.setLang(lang === 'en' ? 'en' : 'zh');
    map.pm.addControls({
      position: 'topleft',
      drawMarker: false, drawCircleMarker: false, drawPolyline: false, drawCircle: false,
      drawText: false, drawRectangle: true, drawPolygon: true,
      editMode: true, dragMode: true, cutPolygon: false, removalMode: true, rotateMode: false
    });
    map.pm.setGlobalOptions({ layerGroup: shapes, allowSelfIntersection: false, snappable: true, snapDistance: 12 });

    function changed(layer) {
      layer.on('pm:edit pm:dragend', save);
    }
    // The map into the textarea: one polygon → Polygon, more → MultiPolygon.
    function save() {
      var list = [];
      shapes.eachLayer(function (l) {
        if (!(l instanceof L.Polygon)) { return; }
        var p = polygons(l.toGeoJSON(7).geometry);
        if (p) { list = list.concat(p); }
      });
      var g = geometry(list);
      field.value = g ? JSON.stringify(g, null, 2) : '';
      say(status, g ? el.getAttribute('data-l-drawn').replace('{n}', String(list.length)) : el.getAttribute('data-l-empty'));
    }
    api.save = save;
    // The textarea onto the map (as loaded, pasted or imported).
    function load(fit) {
      var text = field.value.trim();
      if (!text) {
        shapes.clearLayers();
        return true;
      }
      var list = null;
      try { list = polygons(JSON.parse(text)); } catch (e) { list = null; }
      if (!list) {
        say(status, el.getAttribute('data-l-unreadable'));
        return false;
      }
      shapes.clearLayers();
      for (var i = 0; i < list.length; i++) {
        var l = L.polygon(L.GeoJSON.coordsToLatLngs(list[i], 1));
        shapes.addLayer(l);
        changed(l);
      }
      say(status, '');
      if (fit && shapes.getBounds().isValid()) { map.fitBounds(shapes.getBounds(), { padding: [20, 20] }); }
      return true;
    }
    api.load = load;
    map.on('pm:create', function (e) {
      if (!shapes.hasLayer(e.layer)) { shapes.addLayer(e.layer); }
      changed(e.layer);
      save();
    });
    map.on('pm:remove', function (e) {
      shapes.removeLayer(e.layer);
      save();
    });
    field.addEventListener('change', function () { load(true); });

    var file = document.getElementById('boundary-file');
    if (file && window.FileReader) {
      file.addEventListener('change', function () {
        var f = file.files && file.files[0];
        if (!f) { return; }
        var r = new FileReader();
        r.onload = function () {
          var list = null;
          try { list = polygons(JSON.parse(String(r.result))); } catch (e) { list = null; }
          if (!list) {
            say(status, el.getAttribute('data-l-unreadable'));
            return;
          }
          field.value = JSON.stringify(geometry(list), null, 2);
          load(true);
          say(status, el.getAttribute('data-l-imported'));
        };
        r.readAsText(f);
      });
    }

    fetchData(el.getAttribute('data-src'), function (data) {
      var villages = context(map, data, el.getAttribute('data-self'));
      if (!load(true) || !shapes.getLayers().length) {
        if (villages.getLayers().length && villages.getBounds().isValid()) {
          map.fitBounds(villages.getBounds(), { padding: [10, 10] });
        }
      }
      villages.place();
      el.setAttribute('data-ready', '1');
    });
  }

  var pick = document.getElementById('pick-map');
  if (pick) { picker(pick); }
  var draw = document.getElementById('draw-map');
  if (draw) { drawer(draw); }
})();
