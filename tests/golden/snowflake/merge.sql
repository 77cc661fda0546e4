-- title: Incremental merge on unique_key 'order_id': MERGE INTO ... USING ... ON ... IS NOT DISTINCT FROM ... WHEN MATCHED THEN UPDATE SET ... WHEN NOT MATCHED THEN INSERT

SELECT * FROM (SELECT 1 AS order_id, 'shipped' AS status UNION ALL SELECT 2, 'placed') AS "__orch_q" LIMIT 0;

SELECT column_name, data_type, numeric_precision, numeric_scale FROM "ORCH_DB".INFORMATION_SCHEMA.COLUMNS WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position
-- params: ['ORCH_TEST', 'ORDERS'];

BEGIN;

MERGE INTO "ORCH_DB"."ORCH_TEST"."ORDERS" AS "__orch_tgt" USING (SELECT 1 AS order_id, 'shipped' AS status UNION ALL SELECT 2, 'placed') AS "__orch_src" ON "__orch_tgt"."ORDER_ID" IS NOT DISTINCT FROM "__orch_src"."ORDER_ID" WHEN MATCHED THEN UPDATE SET "STATUS" = "__orch_src"."STATUS" WHEN NOT MATCHED THEN INSERT ("ORDER_ID", "STATUS") VALUES ("__orch_src"."ORDER_ID", "__orch_src"."STATUS");

COMMIT;
