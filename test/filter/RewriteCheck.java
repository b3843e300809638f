// Decodes Dubbo 2 request frames the way Java's Dubbo reads them (Caucho Hessian 2, Debian's
// libhessian-java): dubbo version, path, version, method, parameter descriptor, one object per parameter,
// then the attachments map. Reads a stream of frames on stdin and prints one JSON line per frame.
// Used by rewrite-java.test.ts: `java -cp /usr/share/java/hessian.jar RewriteCheck.java < frames`.

import com.caucho.hessian.io.Hessian2Input;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.lang.reflect.Array;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class RewriteCheck {
  private static final Pattern PARAM = Pattern.compile("\\[*(?:L[^;]+;|[VZBCDFIJS])");

  public static void main(String[] args) throws Exception {
    DataInputStream in = new DataInputStream(System.in);
    byte[] header = new byte[16];
    while (true) {
      try {
        in.readFully(header);
      } catch (EOFException e) {
        break;
      }
      int flags = header[2] & 0xff;
      int length = ((header[12] & 0xff) << 24) | ((header[13] & 0xff) << 16) | ((header[14] & 0xff) << 8) | (header[15] & 0xff);
      byte[] body = new byte[length];
      in.readFully(body);
      if ((flags & 0x20) != 0) {
        System.out.println("{\"event\":true}");
        continue;
      }
      Hessian2Input h = new Hessian2Input(new ByteArrayInputStream(body));
      StringBuilder out = new StringBuilder("{");
      out.append("\"dubboVersion\":").append(json(h.readString()));
      out.append(",\"service\":").append(json(h.readString()));
      out.append(",\"version\":").append(json(h.readString()));
      out.append(",\"method\":").append(json(h.readString()));
      String types = h.readString();
      out.append(",\"types\":").append(json(types));
      out.append(",\"args\":[");
      Matcher m = PARAM.matcher(types);
      boolean first = true;
      while (m.find()) {
        if (!first) out.append(',');
        first = false;
        out.append(json(h.readObject()));
      }
      out.append("],\"attachments\":").append(json(h.readObject()));
      out.append(",\"rest\":").append(h.isEnd() ? 0 : 1);
      out.append('}');
      System.out.println(out);
    }
  }

  static String json(Object o) {
    if (o == null) return "null";
    if (o instanceof String) return quote((String) o);
    if (o instanceof Boolean || o instanceof Integer || o instanceof Long) return o.toString();
    if (o instanceof Number) return quote("number:" + o);
    if (o instanceof Map) {
      StringBuilder b = new StringBuilder("{");
      boolean first = true;
      for (Map.Entry<?, ?> e : new TreeMap<Object, Object>((Map<?, ?>) o).entrySet()) {
        if (!first) b.append(',');
        first = false;
        b.append(quote(String.valueOf(e.getKey()))).append(':').append(json(e.getValue()));
      }
      return b.append('}').toString();
    }
    if (o instanceof List) {
      StringBuilder b = new StringBuilder("[");
      List<?> l = (List<?>) o;
      for (int i = 0; i < l.size(); i++) b.append(i > 0 ? "," : "").append(json(l.get(i)));
      return b.append(']').toString();
    }
    if (o.getClass().isArray()) {
      StringBuilder b = new StringBuilder("[");
      for (int i = 0; i < Array.getLength(o); i++) b.append(i > 0 ? "," : "").append(json(Array.get(o, i)));
      return b.append(']').toString();
    }
    return quote(o.getClass().getName() + ":" + o);
  }

  static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }
}
