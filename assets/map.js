/* The map page: village boundaries and ledger sites from /web/map.json,
   drawn with the vendored Leaflet. No tile server unless one is configured. */
(function () {
  'use strict';
  var el = document.getElementById('map');
  if (!el || !window.L) { return; }
  var colours = { red: '#d7191c', orange: '#f28e2b', yellow: '#e5c100', blue: '#2b83ba', grey: '#888888' };
  var map = L.map(el, { attributionControl: false });
  var tiles = el.getAttribute('data-tiles');
  if (tiles) { L.tileLayer(tiles, { maxZoom: 18 }).addTo(map); }
  map.setView([25.2, 118.0], 12);
  var markers = {};
  window.fhMap = { map: map, markers: markers };

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

  function sitePopup(s) {
    var d = node('div', null, 'popup');
    d.appendChild(node('b', s.name));
    d.appendChild(node('div', s.kind + ' · ' + s.grade + ' · ' + s.status));
    if (s.village) { d.appendChild(node('div', s.village)); }
    d.appendChild(link('/sites/' + s.id, el.getAttribute('data-l-details')));
    return d;
  }

  function draw(data) {
    var bounds = null;
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
        // A string given to Leaflet is read as HTML: pass a text node.
        layer.bindTooltip(node('span', p.name), { permanent: false, direction: 'center' });
        if (String(p.id) === el.getAttribute('data-village')) {
          bounds = layer.getBounds();
          layer.openPopup();
        }
      }
    }).addTo(map);
    var list = document.getElementById('map-sites');
    for (var i = 0; i < data.sites.length; i++) {
      (function (s) {
        var m = L.circleMarker([s.lat, s.lon], {
          radius: 7, color: '#222222', weight: 1,
          fillColor: colours[s.colour] || colours.grey, fillOpacity: 0.9
        }).bindPopup(sitePopup(s)).addTo(map);
        markers[s.id] = m;
        if (list) {
          var li = node('li');
          li.setAttribute('data-site', s.id);
          var dot = node('i', null, 'dot ' + s.colour);
          var a = node('a', s.name);
          a.href = '#site-' + s.id;
          a.addEventListener('click', function (e) {
            e.preventDefault();
            map.setView(m.getLatLng(), Math.max(map.getZoom(), 14));
            m.openPopup();
          });
          li.appendChild(dot);
          li.appendChild(a);
          list.appendChild(li);
        }
      })(data.sites[i]);
    }
    var shelters = data.shelters || [];
    for (var k = 0; k < shelters.length; k++) {
      (function (h) {
        var d = node('div', null, 'popup');
        d.appendChild(node('b', h.name));
        d.appendChild(node('div', el.getAttribute('data-l-shelter') + ' · ' + h.village + ' · ' +
          el.getAttribute('data-l-capacity') + ' ' + h.capacity));
        d.appendChild(node('div', h.detail));
        if (h.address) { d.appendChild(node('div', h.address)); }
        L.marker([h.lat, h.lon], {
          title: h.name,
          icon: L.divIcon({ className: 'shelter-icon', html: '\u26FA', iconSize: [22, 22] })
        }).bindPopup(d).addTo(map);
      })(shelters[k]);
    }
    if (!bounds) {
      var all = L.featureGroup([villages].concat(Object.keys(markers).map(function (k) { return markers[k]; })));
      if (all.getLayers().length && all.getBounds().isValid()) { bounds = all.getBounds(); }
    }
    if (bounds) { map.fitBounds(bounds, { padding: [20, 20] }); }
    var focus = el.getAttribute('data-site');
    if (focus && markers[focus]) {
      map.setView(markers[focus].getLatLng(), 15);
      markers[focus].openPopup();
    }
    el.setAttribute('data-ready', '1');
  }

  var filter = document.getElementById('map-filter');
  if (filter) {
    filter.addEventListener('input', function () {
      var q = filter.value.toLowerCase();
      var items = document.querySelectorAll('#map-sites li');
      for (var i = 0; i < items.length; i++) {
        items[i].style.display = items[i].textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
      }
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
