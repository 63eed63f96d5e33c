DROP INDEX risk_scores_run;
