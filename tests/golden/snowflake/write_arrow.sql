-- title: Arrow in (a Python asset, a seed): CREATE TABLE typed from the Arrow schema, plain names upper-cased, then write_pandas; an append matches the stored columns

SELECT table_type FROM (SELECT table_schema, table_name, table_type FROM "ORCH_DB".INFORMATION_SCHEMA.TABLES) AS t WHERE table_schema = ? AND table_name = ?
-- params: ['ORCH_TEST', 'RAW_ORDERS'];

CREATE TABLE "ORCH_DB"."ORCH_TEST"."RAW_ORDERS" ("ORDER_ID" BIGINT, "Order Total" FLOAT, "PLACED_AT" TIMESTAMP_NTZ);

-- write_pandas(table_name='RAW_ORDERS', auto_create_table=False, database='ORCH_DB', quote_identifiers=True, schema='ORCH_TEST', use_logical_type=True)
-- columns: ['ORDER_ID', 'Order Total', 'PLACED_AT'];

SELECT table_type FROM (SELECT table_schema, table_name, table_type FROM "ORCH_DB".INFORMATION_SCHEMA.TABLES) AS t WHERE table_schema = ? AND table_name = ?
-- params: ['ORCH_TEST', 'RAW_ORDERS'];

SELECT column_name, data_type, numeric_precision, numeric_scale FROM "ORCH_DB".INFORMATION_SCHEMA.COLUMNS WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position
-- params: ['ORCH_TEST', 'RAW_ORDERS'];

-- write_pandas(table_name='RAW_ORDERS', auto_create_table=False, database='ORCH_DB', quote_identifiers=True, schema='ORCH_TEST', use_logical_type=True)
-- columns: ['ORDER_ID', 'Order Total', 'PLACED_AT'];
