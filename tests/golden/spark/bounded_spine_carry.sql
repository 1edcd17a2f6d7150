WITH `spine` AS (
  SELECT
    *
  FROM `__sqlfeat_spine_0`
), `spine_keys__user_id` AS (
  SELECT DISTINCT
    `spine`.`user_id`,
    CAST(`spine`.`event_timestamp` AS TIMESTAMP) AS `__sqlfeat_ts`
  FROM `spine`
), `user_clicks_30d__source` AS (
  SELECT
    `src`.`user_id` AS `user_id`,
    CAST(`src`.`event_time` AS TIMESTAMP) AS `__sqlfeat_event_ts`,
    CAST(`src`.`created` AS TIMESTAMP) AS `__sqlfeat_created_ts`,
    CAST(`src`.`click_count` AS BIGINT) AS `click_count`
  FROM `analytics`.`user_clicks` AS `src`
  WHERE
    NOT `src`.`user_id` IS NULL
    AND CAST(`src`.`event_time` AS TIMESTAMP) <= CAST('2024-03-01 00:00:00.000000+00:00' AS TIMESTAMP)
    AND CAST(`src`.`event_time` AS TIMESTAMP) >= CAST('2023-12-02 00:00:00.000000+00:00' AS TIMESTAMP)
), `user_clicks_30d__numbered` AS (
  SELECT
    `user_clicks_30d__source`.*,
    ROW_NUMBER() OVER (
      PARTITION BY `user_clicks_30d__source`.`user_id`
      ORDER BY `user_clicks_30d__source`.`__sqlfeat_event_ts` ASC, `user_clicks_30d__source`.`__sqlfeat_created_ts` ASC
    ) AS `__sqlfeat_src_row`
  FROM `user_clicks_30d__source`
), `user_clicks_30d__carried` AS (
  SELECT
    `u`.`user_id`,
    `u`.`__sqlfeat_ts`,
    `u`.`__sqlfeat_kind`,
    MAX(`u`.`__sqlfeat_src_row`) OVER (
      PARTITION BY `u`.`user_id`
      ORDER BY `u`.`__sqlfeat_ts`, `u`.`__sqlfeat_kind`
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS `__sqlfeat_src_row`
  FROM (
    SELECT
      `user_clicks_30d__numbered`.`user_id`,
      `user_clicks_30d__numbered`.`__sqlfeat_event_ts` AS `__sqlfeat_ts`,
      0 AS `__sqlfeat_kind`,
      `user_clicks_30d__numbered`.`__sqlfeat_src_row`
    FROM `user_clicks_30d__numbered`
    UNION ALL
    SELECT
      `spine_keys__user_id`.`user_id`,
      `spine_keys__user_id`.`__sqlfeat_ts`,
      1 AS `__sqlfeat_kind`,
      CAST(NULL AS BIGINT) AS `__sqlfeat_src_row`
    FROM `spine_keys__user_id`
  ) AS `u`
), `user_clicks_30d__pit` AS (
  SELECT
    `user_clicks_30d__carried`.`user_id`,
    `user_clicks_30d__carried`.`__sqlfeat_ts`,
    CASE
      WHEN `s`.`__sqlfeat_event_ts` >= `user_clicks_30d__carried`.`__sqlfeat_ts` - INTERVAL '2592000' SECOND
      THEN `s`.`click_count`
    END AS `click_count`
  FROM `user_clicks_30d__carried`
  LEFT JOIN `user_clicks_30d__numbered` AS `s`
    ON `user_clicks_30d__carried`.`user_id` = `s`.`user_id`
    AND `s`.`__sqlfeat_src_row` = `user_clicks_30d__carried`.`__sqlfeat_src_row`
  WHERE
    `user_clicks_30d__carried`.`__sqlfeat_kind` = 1
)
SELECT
  `spine`.`__sqlfeat_row`,
  `user_clicks_30d__pit`.`click_count` AS `click_count`
FROM `spine`
LEFT JOIN `user_clicks_30d__pit`
  ON `spine`.`user_id` = `user_clicks_30d__pit`.`user_id`
  AND CAST(`spine`.`event_timestamp` AS TIMESTAMP) = `user_clicks_30d__pit`.`__sqlfeat_ts`;
