DROP TABLE truth_segment_weeks;
DROP TABLE truth_report_potholes;
DROP TABLE truth_potholes;
DROP TABLE truth_segments;
DROP TABLE truth_neighbourhoods;
DROP TABLE demo_cities;
DROP TABLE neighbourhoods;
