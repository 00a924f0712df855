/* The map page: village boundaries with their names, ledger sites and
   shelters from /web/map.json, drawn with the vendored Leaflet. No tile
   server unless one is configured. The side list and the map show the same
   things: what the filter hides in the list it hides on the map. */
(function () {
  'use strict';
  var el = document.getElementById('map');
  if (!el || !window.L) { return; }
  // Half zoom steps: the township fills the map better than whole ones allow.
  var map = L.map(el, { attributionControl: false, zoomSnap: 0.5 });
  var tiles = el.getAttribute('data-tiles');
  if (tiles) { L.tileLayer(tiles, { maxZoom: 18 }).addTo(map); }
  map.setView([25.2, 118.0], 12);
  var markers = {};
  var shelterMarkers = {};
  var entries = [];
  var labels = [];
  // Village names above the markers, so they stay readable where sites
  // crowd; a label takes no clicks (Leaflet's tooltips never do), so a
  // marker under one still opens.
  map.createPane('villageLabels').style.zIndex = 650;
  var shown = L.layerGroup().addTo(map);
  window.fhMap = { map: map, markers: markers, shelters: shelterMarkers, entries: entries, labels: labels };

  function node(tag, text, cls) {
    var n = document.createElement(tag);
    if (text !== undefined && text !== null) { n.textContent = String(text); }
    if (cls) { n.className = cls; }
    return n;
  }
  function link(href, text) {
    var a = node('a', text);
    a.href = href;
    return a;
  }
  function img(src) {
    var i = node('img');
    i.src = src;
    i.alt = '';
    return i;
  }

  function sitePopup(s) {
    var d = node('div', null, 'popup');
    d.appendChild(node('b', s.name));
    d.appendChild(node('div', s.kind + ' · ' + s.grade + ' · ' + s.status));
    if (s.village) { d.appendChild(node('div', s.village)); }
    d.appendChild(link('/sites/' + s.id, el.getAttribute('data-l-details')));
    return d;
  }

  function shelterPopup(h) {
    var d = node('div', null, 'popup');
    d.appendChild(node('b', h.name));
    d.appendChild(node('div', el.getAttribute('data-l-shelter') + ' · ' + h.village + ' · ' +
      el.getAttribute('data-l-capacity') + ' ' + h.capacity));
    d.appendChild(node('div', h.detail));
    if (h.address) { d.appendChild(node('div', h.address)); }
    return d;
  }

  // Village names: shown always, the larger villages first; a name that
  // would cover one already placed waits until the map is zoomed in.
  function placeLabels() {
    var z = map.getZoom();
    var far = z < 10;
    el.classList.toggle('far', far);
    el.classList.toggle('mid', z < 13);
    var placed = [];
    for (var i = 0; i < labels.length; i++) {
      var t = labels[i].getTooltip();
      var e = t && t.getElement();
      if (!e) { continue; }
      e.classList.remove('overlap');
      if (far) { continue; }
      var r = e.getBoundingClientRect();
      var hit = false;
      for (var j = 0; j < placed.length && !hit; j++) {
        var p = placed[j];
        hit = r.left < p.right && r.right > p.left && r.top < p.bottom && r.bottom > p.top;
      }
      if (hit) { e.classList.add('overlap'); } else { placed.push(r); }
    }
  }

  function area(layer) {
    var b = layer.getBounds();
    return b.isValid() ? (b.getEast() - b.getWest()) * (b.getNorth() - b.getSouth()) : 0;
  }

  function listItem(entry, icon, text, where, onClick) {
    var li = node('li');
    li.appendChild(icon);
    var a = node('a', text);
    a.href = '#' + entry.key;
    a.addEventListener('click', function (e) {
      e.preventDefault();
      onClick();
    });
    li.appendChild(a);
    if (where) { li.appendChild(node('span', where, 'where')); }
    entry.li = li;
    return li;
  }

  function draw(data) {
    var bounds = null;
    var villageSelect = document.getElementById('map-village');
    var villages = L.geoJSON(data.villages, {
      style: { color: '#4d5b6b', weight: 1.5, fillColor: '#9ecae1', fillOpacity: 0.12 },
      onEachFeature: function (f, layer) {
        var p = f.properties;
        var d = node('div', null, 'popup');
        d.appendChild(node('b', p.name + ' (' + p.code + ')'));
        if (p.population !== null && p.population !== undefined) {
          d.appendChild(node('div', el.getAttribute('data-l-population') + ' ' + p.population));
        }
        d.appendChild(link('/villages/' + p.id, el.getAttribute('data-l-details')));
        layer.bindPopup(d);
        // The name as a label at the village's centre. A string given to
        // Leaflet is read as HTML: pass a text node.
        layer.bindTooltip(node('span', p.name), {
          permanent: true, direction: 'center', className: 'village-label', interactive: false,
          pane: 'villageLabels'
        });
        labels.push(layer);
        if (villageSelect) {
          var o = node('option', p.code + ' ' + p.name);
          o.value = String(p.id);
          villageSelect.appendChild(o);
        }
        if (String(p.id) === el.getAttribute('data-village')) {
          bounds = layer.getBounds();
          layer.openPopup();
        }
      }
    }).addTo(map);
    labels.sort(function (a, b) { return area(b) - area(a); });

    var list = document.getElementById('map-sites');
    var i;
    for (i = 0; i < data.sites.length; i++) {
      (function (s) {
        var pin = node('div');
        pin.appendChild(img(s.icon));
        var m = L.marker([s.lat, s.lon], {
          title: s.name,
          alt: s.kind,
          icon: L.divIcon({ className: 'fh-pin ' + s.colour, html: pin, iconSize: [30, 30], popupAnchor: [0, -12] })
        }).bindPopup(sitePopup(s));
        shown.addLayer(m);
        markers[s.id] = m;
        var entry = {
          key: 'site-' + s.id, marker: m, kind: s.kind_code,
          village: s.village_id === null || s.village_id === undefined ? '' : String(s.village_id),
          text: (s.name + ' ' + (s.village || '') + ' ' + s.kind).toLowerCase()
        };
        entries.push(entry);
        if (list) {
          var li = listItem(entry, img(s.icon), s.name, s.village, function () {
            map.setView(m.getLatLng(), Math.max(map.getZoom(), 14));
            m.openPopup();
          });
          li.setAttribute('data-site', s.id);
          li.insertBefore(node('i', null, 'dot ' + s.colour), li.firstChild);
          list.appendChild(li);
        }
      })(data.sites[i]);
    }
    var shelters = data.shelters || [];
    for (i = 0; i < shelters.length; i++) {
      (function (h) {
        var box = node('div');
        box.appendChild(img(data.icons.shelter));
        var m = L.marker([h.lat, h.lon], {
          title: h.name,
          alt: el.getAttribute('data-l-shelter'),
          icon: L.divIcon({ className: 'fh-shelter', html: box, iconSize: [24, 24], popupAnchor: [0, -10] })
        }).bindPopup(shelterPopup(h));
        shown.addLayer(m);
        shelterMarkers[h.id] = m;
        var entry = {
          key: 'shelter-' + h.id, marker: m, kind: 'shelter',
          village: h.village_id === null || h.village_id === undefined ? '' : String(h.village_id),
          text: (h.name + ' ' + h.code + ' ' + (h.village || '') + ' ' + el.getAttribute('data-l-shelter')).toLowerCase()
        };
        entries.push(entry);
        if (list) {
          var li = listItem(entry, img(data.icons.shelter), h.name, h.village, function () {
            map.setView(m.getLatLng(), Math.max(map.getZoom(), 14));
            m.openPopup();
          });
          li.setAttribute('data-shelter', h.id);
          list.appendChild(li);
        }
      })(shelters[i]);
    }
    // Danger zones: a red ring at each, the polygon's outline dashed.
    var zones = data.zones || [];
    for (i = 0; i < zones.length; i++) {
      (function (z) {
        if (z.outline) {
          L.geoJSON(z.outline, { style: { color: '#c62828', weight: 2, dashArray: '4 4', fillOpacity: 0.12 } }).addTo(map);
        }
        var box = node('div');
        box.appendChild(node('b', z.label));
        box.appendChild(node('div', z.name + ' · ' + z.kind));
        box.appendChild(node('div', (z.village || '') + ' · ' + z.people));
        var a = node('a', z.code);
        a.href = '/zones/' + z.id;
        box.appendChild(a);
        var m = L.circleMarker([z.lat, z.lon], { radius: 8, color: '#c62828', weight: 3, fillOpacity: 0.3 }).bindPopup(box);
        shown.addLayer(m);
        var entry = {
          key: 'zone-' + z.id, marker: m, kind: 'zone',
          village: z.village_id === null || z.village_id === undefined ? '' : String(z.village_id),
          text: (z.name + ' ' + z.code + ' ' + (z.village || '') + ' ' + z.kind + ' ' + z.label).toLowerCase()
        };
        entries.push(entry);
        if (list) {
          var li = listItem(entry, node('i', null, 'dot red'), z.name, z.village, function () {
            map.setView(m.getLatLng(), Math.max(map.getZoom(), 15));
            m.openPopup();
          });
          li.setAttribute('data-zone', z.id);
          list.appendChild(li);
        }
      })(zones[i]);
    }
    if (!bounds) {
      var all = L.featureGroup([villages].concat(entries.map(function (e) { return e.marker; })));
      if (all.getLayers().length && all.getBounds().isValid()) { bounds = all.getBounds(); }
    }
    if (bounds) { map.fitBounds(bounds, { padding: [20, 20] }); }
    var focus = el.getAttribute('data-site');
    if (focus && markers[focus]) {
      map.setView(markers[focus].getLatLng(), 15);
      markers[focus].openPopup();
    }
    window.fhMap.villages = villages;
    map.on('zoomend moveend', placeLabels);
    placeLabels();
    apply();
    el.setAttribute('data-ready', '1');
  }

  // The filter: words (name, village, kind), a kind and a village. A row
  // hidden in the list is a marker taken off the map.
  var filter = document.getElementById('map-filter');
  var kindSelect = document.getElementById('map-kind');
  var villageFilter = document.getElementById('map-village');
  var count = document.getElementById('map-count');
  function apply() {
    var q = filter ? filter.value.trim().toLowerCase() : '';
    var kind = kindSelect ? kindSelect.value : '';
    var village = villageFilter ? villageFilter.value : '';
    var n = 0;
    for (var i = 0; i < entries.length; i++) {
      var e = entries[i];
      var ok = (!q || e.text.indexOf(q) >= 0) && (!kind || e.kind === kind) &&
        (!village || e.village === village);
      if (e.li) { e.li.style.display = ok ? '' : 'none'; }
      if (ok && !shown.hasLayer(e.marker)) { shown.addLayer(e.marker); }
      if (!ok && shown.hasLayer(e.marker)) { e.marker.closePopup(); shown.removeLayer(e.marker); }
      if (ok) { n++; }
    }
    if (count) { count.textContent = el.getAttribute('data-l-shown') + ' ' + n + ' / ' + entries.length; }
  }
  if (filter) { filter.addEventListener('input', apply); }
  if (kindSelect) { kindSelect.addEventListener('change', apply); }
  if (villageFilter) {
    villageFilter.addEventListener('change', function () {
      apply();
      var v = villageFilter.value;
      if (!v || !window.fhMap.villages) { return; }
      window.fhMap.villages.eachLayer(function (l) {
        if (String(l.feature.properties.id) === v) { map.fitBounds(l.getBounds(), { padding: [20, 20] }); }
      });
    });
  }

  var x = new XMLHttpRequest();
  x.open('GET', el.getAttribute('data-src'));
  x.onload = function () {
    if (x.status !== 200) { return; }
    try { draw(JSON.parse(x.responseText)); } catch (err) { el.setAttribute('data-error', String(err)); }
  };
  x.send();
})();
