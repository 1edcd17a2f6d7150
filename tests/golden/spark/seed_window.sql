WITH `spine` AS (
  SELECT
    *
  FROM `entity_df`
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
    CAST(`src`.`click_count` AS BIGINT) AS `click_count`,
    CAST(`src`.`top_category` AS STRING) AS `top_category`
  FROM `analytics`.`user_clicks` AS `src`
  WHERE
    NOT `src`.`user_id` IS NULL
    AND CAST(`src`.`event_time` AS TIMESTAMP) <= (
      SELECT
        MAX(`__sqlfeat_ts`)
      FROM `spine_keys__user_id`
    )
    AND CAST(`src`.`event_time` AS TIMESTAMP) >= (
      SELECT
        MIN(`__sqlfeat_ts`)
      FROM `spine_keys__user_id`
    ) - INTERVAL '2592000' SECOND
), `user_clicks_30d__pit` AS (
  SELECT
    `user_id`,
    `__sqlfeat_ts`,
    `click_count`,
    `top_category`
  FROM (
    SELECT
      `spine_keys__user_id`.`user_id`,
      `spine_keys__user_id`.`__sqlfeat_ts`,
      `s`.`click_count` AS `click_count`,
      `s`.`top_category` AS `top_category`,
      ROW_NUMBER() OVER (
        PARTITION BY `spine_keys__user_id`.`user_id`, `spine_keys__user_id`.`__sqlfeat_ts`
        ORDER BY `s`.`__sqlfeat_event_ts` DESC, `s`.`__sqlfeat_created_ts` DESC
      ) AS _w
    FROM `spine_keys__user_id`
    JOIN `user_clicks_30d__source` AS `s`
      ON `spine_keys__user_id`.`user_id` = `s`.`user_id`
      AND `s`.`__sqlfeat_event_ts` <= `spine_keys__user_id`.`__sqlfeat_ts`
      AND `s`.`__sqlfeat_event_ts` >= `spine_keys__user_id`.`__sqlfeat_ts` - INTERVAL '2592000' SECOND
  ) AS _t
  WHERE
    _w = 1
)
SELECT
  `spine`.*,
  `user_clicks_30d__pit`.`click_count` AS `click_count`,
  `user_clicks_30d__pit`.`top_category` AS `top_category`
FROM `spine`
LEFT JOIN `user_clicks_30d__pit`
  ON `spine`.`user_id` = `user_clicks_30d__pit`.`user_id`
  AND CAST(`spine`.`event_timestamp` AS TIMESTAMP) = `user_clicks_30d__pit`.`__sqlfeat_ts`;
