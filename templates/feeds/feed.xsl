<?xml version="1.0" encoding="UTF-8"?>
<!-- Shows an RSS or Atom feed as a readable page when opened in a browser. Feed readers
     ignore it. Served from the feeds folder and referenced by an xml-stylesheet instruction.
     The page takes the feed's language and writing direction, shows each story's author,
     lead image and date in words, says when the document is an archive (RFC 5005), and
     links back to the index of every feed (its address is filled in when the file is written). -->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:media="http://search.yahoo.com/mrss/"
    xmlns:fh="http://purl.org/syndication/history/1.0"
    exclude-result-prefixes="atom dc media fh">
  <xsl:output method="html" encoding="UTF-8" indent="yes"
      doctype-system="about:legacy-compat"/>

  <xsl:variable name="months" select="'JanFebMarAprMayJunJulAugSepOctNovDec'"/>
  <xsl:variable name="rtl" select="' ar arc ckb dv fa ha he khw ks ku ps sd syr ug ur yi '"/>

  <!-- "Tue, 17 Sep 2024 17:50:00 +0500" or "2024-09-17T17:50:00+05:00" as "17 Sep 2024, 17:50". -->
  <xsl:template name="date">
    <xsl:param name="value"/>
    <xsl:choose>
      <xsl:when test="contains($value, ',')">
        <xsl:variable name="rest" select="normalize-space(substring-after($value, ','))"/>
        <xsl:value-of select="concat(substring-before($rest, ' '), ' ',
            substring-before(substring-after($rest, ' '), ' '), ' ',
            substring(substring-after(substring-after($rest, ' '), ' '), 1, 4), ', ',
            substring(substring-after(substring-after(substring-after($rest, ' '), ' '), ' '), 1, 5))"/>
      </xsl:when>
      <xsl:when test="string-length($value) &gt;= 16">
        <xsl:value-of select="concat(number(substring($value, 9, 2)), ' ',
            substring($months, (number(substring($value, 6, 2)) - 1) * 3 + 1, 3), ' ',
            substring($value, 1, 4), ', ', substring($value, 12, 5))"/>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$value"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template match="/">
    <xsl:variable name="title" select="rss/channel/title | atom:feed/atom:title"/>
    <xsl:variable name="self" select="rss/channel/atom:link[@rel='self']/@href | atom:feed/atom:link[@rel='self']/@href"/>
    <xsl:variable name="home" select="rss/channel/link | atom:feed/atom:link[@rel='alternate']/@href"/>
    <xsl:variable name="current" select="rss/channel/atom:link[@rel='current']/@href | atom:feed/atom:link[@rel='current']/@href"/>
    <xsl:variable name="lang" select="string((rss/channel/language | atom:feed/@xml:lang)[1])"/>
    <xsl:variable name="primary" select="translate(substring-before(concat($lang, '-'), '-'),
        'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"/>
    <xsl:variable name="dir">
      <xsl:choose>
        <xsl:when test="$primary != '' and contains($rtl, concat(' ', $primary, ' '))">rtl</xsl:when>
        <xsl:otherwise>ltr</xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <html lang="{$lang}" dir="{$dir}">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="$title"/> (web feed)</title>
        <style>
          body { font-family: Georgia, 'Times New Roman', serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; color: #1f2328; background: #fbfbf9; }
          .about { font-family: Helvetica, Arial, sans-serif; background: #fff4d6; border: 1px solid #e8d9a8; padding: 1rem 1.25rem; border-radius: 6px; }
          .about code { background: #fff; padding: 0.1rem 0.3rem; border: 1px solid #e8d9a8; word-break: break-all; }
          .archive { font-family: Helvetica, Arial, sans-serif; background: #eef3fb; border: 1px solid #b9cbe6; padding: 0.75rem 1.25rem; border-radius: 6px; }
          h1 { margin-bottom: 0.25rem; }
          .item { border-bottom: 1px solid #e4e4e0; padding: 1rem 0; }
          .item h2 { font-size: 1.2rem; margin: 0 0 0.25rem 0; }
          .item a { color: #1f2328; }
          .item img { max-width: 100%; height: auto; margin: 0.5rem 0; }
          .meta { font-family: Helvetica, Arial, sans-serif; font-size: 0.85rem; color: #57606a; }
          nav { font-family: Helvetica, Arial, sans-serif; }
        </style>
      </head>
      <body>
        <nav><a href="{{index_url}}">&#8592; Every feed of this site</a></nav>
        <xsl:choose>
          <xsl:when test="$current">
            <div class="archive">
              <strong>This is an archive</strong>: the stories of one month, kept as they were.
              The current feed, to subscribe to, is
              <a href="{$current}"><xsl:value-of select="$current"/></a>.
            </div>
          </xsl:when>
          <xsl:otherwise>
            <div class="about">
              <strong>This is a web feed</strong>, also known as an RSS or Atom feed.
              <strong>Subscribe</strong> by copying the address below into your news reader
              (Feedly, NetNewsWire, Inoreader, Thunderbird…) to get new stories as they are published.
              <p><code><xsl:value-of select="$self"/></code></p>
            </div>
          </xsl:otherwise>
        </xsl:choose>
        <h1><xsl:value-of select="$title"/></h1>
        <p><xsl:value-of select="rss/channel/description | atom:feed/atom:subtitle"/></p>
        <p><a href="{$home}">Visit the website</a></p>
        <xsl:for-each select="rss/channel/item | atom:feed/atom:entry">
          <div class="item">
            <h2>
              <a href="{link | atom:link[@rel='alternate']/@href}">
                <xsl:value-of select="title | atom:title"/>
              </a>
            </h2>
            <div class="meta">
              <xsl:for-each select="dc:creator | atom:author/atom:name">
                <xsl:if test="position() &gt; 1"><xsl:text>, </xsl:text></xsl:if>
                <xsl:value-of select="."/>
              </xsl:for-each>
              <xsl:if test="dc:creator | atom:author/atom:name"><xsl:text> · </xsl:text></xsl:if>
              <xsl:call-template name="date">
                <xsl:with-param name="value" select="string((pubDate | atom:published)[1])"/>
              </xsl:call-template>
              <xsl:if test="category | atom:category">
                <xsl:text> · </xsl:text>
                <xsl:value-of select="(category | atom:category/@term)[1]"/>
              </xsl:if>
            </div>
            <xsl:for-each select="media:content[@medium='image'][1]">
              <img src="{@url}" alt="{media:description}"/>
            </xsl:for-each>
            <xsl:choose>
              <xsl:when test="atom:summary"><p><xsl:value-of select="atom:summary"/></p></xsl:when>
              <!-- RSS's description is HTML (publisher escapes the plain summary into it) -->
              <xsl:otherwise><p><xsl:value-of select="description" disable-output-escaping="yes"/></p></xsl:otherwise>
            </xsl:choose>
          </div>
        </xsl:for-each>
      </body>
    </html>
  </xsl:template>
</xsl:stylesheet>
