-- compat: breaking (reason: sessions unused since v1.4)
DROP TABLE sessions;
