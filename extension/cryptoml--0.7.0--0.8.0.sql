-- cryptoml 0.7.0 -> 0.8.0 (issue 17: feature set v2, volatility model, anomalies, ml_tune, stacking)
\echo Use "ALTER EXTENSION cryptoml UPDATE TO '0.8.0'" to load this file. \quit
