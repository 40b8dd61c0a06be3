SELECT
  currency_id,
  currency_code,
  CASE currency_code
    WHEN 'GBP' THEN 'British pound'
    WHEN 'USD' THEN 'US dollar'
    WHEN 'EUR' THEN 'Euro'
    ELSE currency_code
  END AS currency_name
FROM currency
