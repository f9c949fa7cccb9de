-- cryptoml 0.1.0 -> 0.2.0. A database upgraded with this script has exactly the objects of a
-- fresh 0.2.0 install (test/tap/upgrade.sh compares the two catalogs).
\echo Use "ALTER EXTENSION cryptoml UPDATE TO '0.2.0'" to load this file. \quit

-- Training reads a float8[] of the features instead of parsing the jsonb of every sample.
ALTER TABLE mlTrainingSamples ADD COLUMN feature_vector DOUBLE PRECISION[];
COMMENT ON COLUMN mlTrainingSamples.feature_vector IS 'The same features as a vector in feature-set order, NaN for null (added; what training reads).';

-- a samples' features object as a vector in feature-set order (mlTrainingSamples.feature_vector)
CREATE FUNCTION cryptoml_internal.features_to_vector(features jsonb) RETURNS double precision[]
  AS 'MODULE_PATHNAME', 'cml_features_to_vector' LANGUAGE C STABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION cryptoml_internal.features_to_vector(jsonb) FROM PUBLIC;

-- Samples stored by 0.1.0 get their vector (only those of the feature set this build knows;
-- ml_train converts any other row's jsonb when it reads it).
UPDATE mlTrainingSamples SET feature_vector = cryptoml_internal.features_to_vector(features)
  WHERE metadata->>'feature_set_version' = '1';

-- The prediction cache looks a forecast up by bar.
CREATE INDEX persistentforecasts_bar_idx ON persistentForecasts (symbol, forecast_horizon, bar_timestamp);
