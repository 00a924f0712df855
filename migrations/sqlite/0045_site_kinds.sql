-- Kinds of site the township supervises beyond hazchem and fireworks
-- (非煤矿山, 加油站, 瓶装燃气供应点, 山塘/小水库): what only one kind carries
-- (a pond's three responsible persons, a quarry's mining licence, a retail
-- point's sale season …) as typed JSON (ledger::site_details), and the
-- people within 500 m that grade a major hazard source (GB 18218 表5 α).
ALTER TABLE sites ADD COLUMN details TEXT NOT NULL DEFAULT '{}';
ALTER TABLE sites ADD COLUMN people_within_500m INTEGER;
