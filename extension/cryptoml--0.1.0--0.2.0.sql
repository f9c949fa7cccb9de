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

-- Ensembles: their members and weights.
CREATE TABLE cryptoml_internal.ensemble_members (
  ensemble_batch_id VARCHAR(50) NOT NULL REFERENCES mlTrainingBatches (batch_id) ON DELETE CASCADE,
  member_batch_id   VARCHAR(50) NOT NULL REFERENCES mlTrainingBatches (batch_id) ON DELETE RESTRICT,
  model_type        VARCHAR(30) NOT NULL,
  weight            DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (ensemble_batch_id, member_batch_id),
  CONSTRAINT ensemble_members_weight_range CHECK (weight >= 0 AND weight <= 1)
);
CREATE INDEX ensemble_members_member_idx ON cryptoml_internal.ensemble_members (member_batch_id);
COMMENT ON TABLE cryptoml_internal.ensemble_members IS 'Members of each ensemble and their weights (sum 1). A member batch cannot be deleted while an ensemble uses it.';
SELECT pg_catalog.pg_extension_config_dump('cryptoml_internal.ensemble_members', '');

-- Per-session caches of the production models (ml_forecast) follow every change of the registry.
CREATE FUNCTION cryptoml_internal.registry_changed() RETURNS trigger
  AS 'MODULE_PATHNAME', 'cml_registry_changed' LANGUAGE C;
REVOKE ALL ON FUNCTION cryptoml_internal.registry_changed() FROM PUBLIC;
CREATE TRIGGER zz_cryptoml_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mlTrainingBatches
  FOR EACH STATEMENT EXECUTE FUNCTION cryptoml_internal.registry_changed();
