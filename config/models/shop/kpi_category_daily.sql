-- One row per day and product category: revenue of the items not returned,
-- average order value (that revenue over the orders with an item of the
-- category) and the share of the category's item lines returned.
SELECT
  CAST(o.order_time AS DATE) AS date,
  p.category AS category,
  SUM(CASE WHEN i.returned THEN 0.0 ELSE i.quantity * i.unit_price END) AS revenue,
  SUM(CASE WHEN i.returned THEN 0.0 ELSE i.quantity * i.unit_price END)
    / COUNT(DISTINCT o.order_id) AS average_order_value,
  AVG(CASE WHEN i.returned THEN 1.0 ELSE 0.0 END) AS average_return_rate
FROM order_items i
JOIN orders o ON o.order_id = i.order_id
JOIN products p ON p.product_id = i.product_id
GROUP BY CAST(o.order_time AS DATE), p.category
