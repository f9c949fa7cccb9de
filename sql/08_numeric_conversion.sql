-- The trigger reads prices with a numeric -> double shortcut; it must give exactly the double
-- numeric_float8 gives. Result: {mismatches, conversions that took the shortcut}.
SELECT setseed(0.42);
SELECT cryptoml_internal.numeric_to_double_mismatches(array_agg(x)) AS random_values FROM (
  SELECT round((random() * 10 ^ (random() * 14 - 6))::numeric, (random() * 10)::int)
         * (CASE WHEN random() < 0.5 THEN -1 ELSE 1 END) AS x
  FROM generate_series(1, 100000)) t;
SELECT v AS value, cryptoml_internal.numeric_to_double_mismatches(ARRAY[v::numeric]) AS result
  FROM unnest(ARRAY['0', '1', '-1', '0.00000001', '99999999999.99999999', '12345678.12345678', '58669.06', '0.1', '0.3',
                    '1e22', '1e23', '1e-22', '1e-23', '123456789012345678', '9007199254740992', '9007199254740993',
                    '0.000000000000000000001', '0.1000', '100000000', 'NaN', 'Infinity', '-Infinity']) AS v;
