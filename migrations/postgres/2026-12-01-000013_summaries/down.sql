DROP TABLE summaries;
