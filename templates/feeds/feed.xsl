<?xml version="1.0" encoding="UTF-8"?>
<!-- Shows an RSS or Atom feed as a readable page when opened in a browser. Feed readers
     ignore it. Served from the feeds folder and referenced by an xml-stylesheet instruction. -->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    exclude-result-prefixes="atom">
  <xsl:output method="html" encoding="UTF-8" indent="yes"
      doctype-system="about:legacy-compat"/>

  <xsl:template match="/">
    <xsl:variable name="title" select="rss/channel/title | atom:feed/atom:title"/>
    <xsl:variable name="self" select="rss/channel/atom:link[@rel='self']/@href | atom:feed/atom:link[@rel='self']/@href"/>
    <xsl:variable name="home" select="rss/channel/link | atom:feed/atom:link[@rel='alternate']/@href"/>
    <html lang="en">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="$title"/> (web feed)</title>
        <style>
          body { font-family: Georgia, 'Times New Roman', serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; color: #1f2328; background: #fbfbf9; }
          .about { font-family: Helvetica, Arial, sans-serif; background: #fff4d6; border: 1px solid #e8d9a8; padding: 1rem 1.25rem; border-radius: 6px; }
          .about code { background: #fff; padding: 0.1rem 0.3rem; border: 1px solid #e8d9a8; word-break: break-all; }
          h1 { margin-bottom: 0.25rem; }
          .item { border-bottom: 1px solid #e4e4e0; padding: 1rem 0; }
          .item h2 { font-size: 1.2rem; margin: 0 0 0.25rem 0; }
          .item a { color: #1f2328; }
          .meta { font-family: Helvetica, Arial, sans-serif; font-size: 0.85rem; color: #57606a; }
        </style>
      </head>
      <body>
        <div class="about">
          <strong>This is a web feed</strong>, also known as an RSS or Atom feed.
          <strong>Subscribe</strong> by copying the address below into your news reader
          (Feedly, NetNewsWire, Inoreader, Thunderbird…) to get new stories as they are published.
          <p><code><xsl:value-of select="$self"/></code></p>
        </div>
        <h1><xsl:value-of select="$title"/></h1>
        <p><xsl:value-of select="rss/channel/description | atom:feed/atom:subtitle"/></p>
        <p><a href="{$home}">Visit the website &#8594;</a></p>
        <xsl:for-each select="rss/channel/item | atom:feed/atom:entry">
          <div class="item">
            <h2>
              <a href="{link | atom:link[@rel='alternate']/@href}">
                <xsl:value-of select="title | atom:title"/>
              </a>
            </h2>
            <div class="meta">
              <xsl:value-of select="pubDate | atom:published"/>
              <xsl:if test="category | atom:category">
                <xsl:text> · </xsl:text>
                <xsl:value-of select="category | atom:category/@term"/>
              </xsl:if>
            </div>
            <p><xsl:value-of select="description | atom:summary"/></p>
          </div>
        </xsl:for-each>
      </body>
    </html>
  </xsl:template>
</xsl:stylesheet>
