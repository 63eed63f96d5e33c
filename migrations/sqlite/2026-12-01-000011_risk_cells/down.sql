DROP TABLE risk_cell_scores;
