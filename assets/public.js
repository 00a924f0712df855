/* The public page (信息公开): each warning's area on a small map, drawn with
   the vendored Leaflet from the area in its data attribute. No tile server
   unless one is configured. */
(function () {
  'use strict';
  if (!window.L) { return; }
  var maps = document.querySelectorAll('.pubmap');
  for (var i = 0; i < maps.length; i++) {
    var el = maps[i];
    var area;
    try { area = JSON.parse(el.getAttribute('data-area') || '{}'); } catch (e) { continue; }
    var map = L.map(el, { attributionControl: false, scrollWheelZoom: false });
    var tiles = el.getAttribute('data-tiles');
    if (tiles) { L.tileLayer(tiles, { maxZoom: 18 }).addTo(map); }
    var style = { color: '#c0392b', weight: 2, fillColor: '#e74c3c', fillOpacity: 0.18 };
    var group = L.featureGroup().addTo(map);
    (area.polygons || []).forEach(function (ring) { L.polygon(ring, style).addTo(group); });
    (area.circles || []).forEach(function (c) { L.circle([c[0], c[1]], Object.assign({ radius: c[2] }, style)).addTo(group); });
    if (group.getLayers().length) {
      map.fitBounds(group.getBounds(), { padding: [10, 10] });
    } else {
      map.setView([25.2, 118.0], 11);
    }
  }
}());
